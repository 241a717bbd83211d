//! Any sequence of frames from the network into a registered user agent
//! that answers every call: never a panic. The property lives in the
//! crate's integration tests so the corpus replay there checks the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/sip/ua_property.rs"]
mod ua_property;

fuzz_target!(|data: &[u8]| ua_property::check(data));
