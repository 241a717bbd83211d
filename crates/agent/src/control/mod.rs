//! Call control: the decisions of the agent session, as sans-IO state
//! machines that take `now` and what happened and return what to do. They
//! never read the clock, spawn, lock or await; the session's runner
//! (`session/runner/`) feeds them commands, user-agent events, media
//! events and deadlines, carries out the steps they return, and tells
//! them the results. Their tests run on simulated time, in milliseconds.
//!
//! One file per concern:
//! * [`call`]: a call's phase (offered, ringing, dialling, early,
//!   connected with its holds and link, ending) as one enum;
//! * [`admission`]: whether an incoming INVITE rings, rings quietly, is
//!   answered by itself, or is refused (486 before anything rings, 488 for
//!   an offer we cannot answer);
//! * [`negotiation`]: hold, resume and ICE-restart re-offers, with the
//!   rollback a refused re-INVITE calls for;
//! * [`consult`]: the warm transfer, from dialling the expert to the
//!   REFER's outcome or the way back to the customer;
//! * [`desk`]: the agent's own state, wrap-up with its time limit and
//!   disposition, and missed offers;
//! * [`transferee`]: a REFER from the far end, checked against the dial
//!   policy before our phone dials anything.
//!
//! How an input becomes an effect, for example the far end refusing a
//! hold: the user agent reports `OfferRejected`; the runner asks the call's
//! [`negotiation::Negotiation`] what was refused and gets a
//! [`negotiation::Rollback`] to the hold state before it; it then puts the
//! media direction and the audio back, shows the call's state again
//! ([`call::Phase::shown`]) and reports the refusal with its own error code.

pub mod admission;
pub mod call;
pub mod consult;
pub mod desk;
pub mod negotiation;
pub mod transferee;
