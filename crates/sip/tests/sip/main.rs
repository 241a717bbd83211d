//! Integration tests of `warmline-sip` through its public API, one module per
//! topic.

mod corpus;
mod dialogs;
mod limits;
mod property;
mod rfc4475;
mod rfc4475_checks;
mod transactions;
