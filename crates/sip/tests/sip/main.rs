//! Integration tests of `warmline-sip` through its public API, one module per
//! topic.

mod corpus;
mod dialogs;
mod harness;
mod limits;
mod property;
mod rfc4475;
mod rfc4475_checks;
mod transactions;
#[cfg(feature = "transport")]
mod transport;
mod ua_calls;
mod ua_flow;
mod ua_property;
mod ua_register;
mod ua_reoffer;
mod ua_timers;
mod ua_transfer;
