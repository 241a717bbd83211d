//! The real `warmline` window, driven through WebDriver inside the test
//! session. Screenshots land in `target/test-artifacts/desktop/`.

mod about;
