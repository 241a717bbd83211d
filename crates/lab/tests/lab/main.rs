//! The lab's stand-ins over HTTP, as clients see them: the Teams and store
//! conformance suites, sign-in flows, Graph queries and faults, the CRM and
//! its outages, the control API and its JSON-lines protocol; and the SIP
//! front end over WebSocket (registrar, PUBLISH, the ACD) with test agents
//! built from the SIP and media crates.

mod arrivals;
mod commands;
mod crm;
mod entra;
mod graph;
mod realtime;
mod sip;
mod store_conformance;
mod support;
mod teams_client;
mod teams_conformance;
