//! The real `warmline` window, driven through WebDriver inside the test
//! session. Screenshots land in `target/test-artifacts/desktop/<test>/`.

mod about;
mod day;
mod desk;
mod global;
mod hostile;
mod keyboard;
