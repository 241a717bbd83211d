//! Tests that play real time; they run in the `realtime` test group.

mod devices;
mod loopback;
