//! Tests that play real time; they run in the `realtime` test group.

mod devices;
mod hotplug;
mod loopback;
mod pulse;
mod ringer;
