//! Desktop end-to-end tests.
