//! SIP interop with real third-party peers on loopback: Debian's Kamailio
//! (with its WebSocket modules) as registrar and proxy, and sipp over UDP.
//! Each test starts its own Kamailio on free ports with the config in
//! `tests/interop/kamailio/kamailio.cfg`; logs land in
//! `target/test-artifacts/interop/`. Test names carry `interop` so nextest
//! runs them one at a time (the `realtime` group).

mod agent;
mod calls_interop;
#[allow(dead_code, reason = "the media relay is for the agent interop tests, which share this file")]
mod kamailio;
mod kamailio_interop;
mod party;
mod registrar_agent;
mod sipp;
mod sipp_interop;
mod support;
