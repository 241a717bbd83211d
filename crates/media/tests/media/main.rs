//! Integration tests for warmline-media, one module per topic. Modules whose
//! path contains `realtime` play real time and run in their own test group.

mod pipeline;
mod realtime;
