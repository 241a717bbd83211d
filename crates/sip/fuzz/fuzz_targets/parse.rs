//! Any bytes: parsing never panics, and whatever parses serializes to bytes
//! that parse back to an equal message. The property lives in the crate's
//! integration tests so the corpus replay there checks exactly the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/sip/property.rs"]
mod property;

fuzz_target!(|data: &[u8]| property::check(data));
