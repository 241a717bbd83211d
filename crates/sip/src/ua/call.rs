//! One call: its dialog, offer/answer state and everything in flight on it.
//! The operations live beside this file, one per file, as `impl UserAgent`
//! blocks: [`invite`](super::invite) (dialing), [`answer`](super::answer),
//! [`cancel`](super::cancel), [`bye`](super::bye), [`hold`](super::hold)
//! (re-INVITE and UPDATE), [`prack`](super::prack),
//! [`session_timer`](super::session_timer), [`refer`](super::refer),
//! [`replaces`](super::replaces) and [`info`](super::info).

use std::time::{Duration, Instant};

use super::event::{CallId, CallInfo, CallState, Direction, EndReason};
use super::offer_answer::OfferAnswer;
use super::session_timer::{SessionExpires, SessionTimer};
use super::transactions::TxId;
use crate::dialog::Dialog;
use crate::message::{HeaderName, Headers, Method, NameAddr, Uri};

/// A retransmission timer for a response we send ourselves (a 2xx to an
/// INVITE, a reliable provisional) on an unreliable transport: T1 doubling
/// up to T2 (RFC 3261 13.3.1.4, RFC 3262 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resend {
    pub(crate) at: Instant,
    pub(crate) interval: Duration,
}

/// What our re-INVITE or UPDATE is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// An offer from the owner (hold, resume, a media change).
    Offer,
    /// An empty re-INVITE asking the far end for an offer.
    AskOffer,
    /// A session refresh (RFC 4028).
    Refresh,
    /// A target refresh after a reconnect: the new Contact.
    Reconnect,
}

/// A re-INVITE or UPDATE we sent and wait for.
#[derive(Debug, Clone)]
pub(crate) struct Reoffer {
    pub(crate) tx: TxId,
    pub(crate) method: Method,
    pub(crate) purpose: Purpose,
    pub(crate) offer: Option<Vec<u8>>,
}

/// A re-INVITE or UPDATE from the far end that waits for the owner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncomingReoffer {
    pub(crate) tx: TxId,
    pub(crate) invite: bool,
    /// It carried an offer (else it asks for ours).
    pub(crate) has_offer: bool,
    /// The far end's offer holds the call.
    pub(crate) hold: bool,
}

/// Our 2xx to an INVITE, waiting for its ACK.
#[derive(Debug, Clone)]
pub(crate) struct AwaitAck {
    pub(crate) cseq: u32,
    pub(crate) wire: Vec<u8>,
    pub(crate) resend: Option<Resend>,
    pub(crate) deadline: Instant,
    /// Our 2xx carried an offer, so the ACK carries the answer.
    pub(crate) answer_expected: bool,
}

/// A re-offer refused with 491, to retry after the RFC 3261 14.1 delay.
#[derive(Debug, Clone)]
pub(crate) struct Glare {
    pub(crate) at: Instant,
    pub(crate) method: Method,
    pub(crate) purpose: Purpose,
    pub(crate) offer: Option<Vec<u8>>,
}

/// Reliable provisional responses (RFC 3262), both roles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reliable {
    /// As UAC: the RSeq of the last reliable provisional we PRACKed.
    pub(crate) last_rseq: Option<u32>,
    /// As UAS: the next RSeq to send.
    pub(crate) next_rseq: u32,
    /// As UAS: the reliable provisional not yet PRACKed.
    pub(crate) unacked: Option<Unacked>,
    /// As UAS: the owner's answer, whose 2xx waits for the PRACK (RFC 3262 3).
    pub(crate) held_answer: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Unacked {
    pub(crate) rseq: u32,
    pub(crate) wire: Vec<u8>,
    pub(crate) resend: Option<Resend>,
    pub(crate) deadline: Instant,
}

/// A transfer we asked for (we are the transferor).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub(crate) refer: TxId,
    /// The consultation call whose dialog the target replaces (attended).
    pub(crate) consult: Option<CallId>,
    pub(crate) accepted: bool,
    pub(crate) done: bool,
}

/// A transfer the far end asked of us (we are the transferee): the
/// implicit subscription we send NOTIFYs on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReferSubscription {
    pub(crate) new_call: CallId,
    pub(crate) terminated: bool,
    pub(crate) succeeded: bool,
}

/// The far end's capabilities, from its Allow and Supported.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peer {
    pub(crate) update: bool,
    pub(crate) prack: bool,
    pub(crate) timer: bool,
}

impl Peer {
    pub(crate) fn learn(&mut self, headers: &Headers) {
        for m in headers.tokens(&HeaderName::Allow) {
            if m.eq_ignore_ascii_case("UPDATE") {
                self.update = true;
            }
        }
        for t in headers.tokens(&HeaderName::Supported).chain(headers.tokens(&HeaderName::Require)) {
            if t.eq_ignore_ascii_case("100rel") {
                self.prack = true;
            } else if t.eq_ignore_ascii_case("timer") {
                self.timer = true;
            }
        }
    }
}

/// Our side of the INVITE that set the call up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel {
    None,
    /// Asked for before any provisional response: sent when one comes.
    Pending,
    /// Sent; the INVITE should end with 487 (or a racing 2xx we BYE).
    Sent {
        deadline: Instant,
    },
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: CallId,
    pub(crate) direction: Direction,
    pub(crate) state: CallState,
    pub(crate) dialog: Option<Dialog>,
    /// The Call-ID (before and after the dialog exists).
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    /// The far end as first addressed (To of our INVITE, From of theirs).
    pub(crate) remote: NameAddr,
    /// The INVITE transaction that set the call up (client or server).
    pub(crate) invite: Option<TxId>,
    pub(crate) invite_cseq: u32,
    /// Extra headers on our INVITE (Referred-By, Replaces).
    pub(crate) extra: Vec<(HeaderName, String)>,
    pub(crate) oa: OfferAnswer,
    pub(crate) local_sdp: Option<Vec<u8>>,
    /// The far end's offer while it waits for the owner's answer.
    pub(crate) pending_offer: Option<Vec<u8>>,
    pub(crate) remote_sdp: Option<Vec<u8>>,
    pub(crate) local_hold: bool,
    pub(crate) remote_hold: bool,
    pub(crate) cancel: Cancel,
    /// Our last ACK for a 2xx, re-sent when the 2xx is retransmitted.
    pub(crate) ack: Option<(u32, Vec<u8>)>,
    /// An offer in a 2xx to our empty re-INVITE: the ACK waits for the
    /// owner's answer (the CSeq of that INVITE).
    pub(crate) ack_waits_for_answer: Option<u32>,
    pub(crate) await_ack: Option<AwaitAck>,
    pub(crate) reoffer: Option<Reoffer>,
    pub(crate) incoming_reoffer: Option<IncomingReoffer>,
    pub(crate) glare: Option<Glare>,
    pub(crate) reliable: Reliable,
    pub(crate) peer: Peer,
    pub(crate) session: Option<SessionTimer>,
    /// Session-Expires to ask for in our next INVITE (after a 422).
    pub(crate) session_interval: Option<u32>,
    /// As UAS: the session timer chosen for the INVITE, started with the 2xx.
    pub(crate) pending_session: Option<SessionExpires>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) refer_sub: Option<ReferSubscription>,
    /// A REFER the application has been asked about (ReferPolicy::Ask).
    pub(crate) asked_refer: Option<AskedRefer>,
    /// This call was made for a REFER that came in this other call: its
    /// progress is reported there in NOTIFYs.
    pub(crate) referred_from: Option<CallId>,
    /// This incoming call replaces that one (RFC 3891).
    pub(crate) replaces: Option<CallId>,
    /// The reason to report when the call ends, when a transfer decided it
    /// (the transferee's old call, a consultation call the target
    /// replaced, a call replaced by an INVITE with Replaces).
    pub(crate) end_as: Option<EndReason>,
    /// Waiting for re-registration to send a target refresh.
    pub(crate) needs_refresh: bool,
    /// Where our INVITE goes (outgoing) and whether it has gone.
    pub(crate) target: Uri,
}

impl Call {
    pub(crate) fn new(id: CallId, direction: Direction, state: CallState, call_id: String, local_tag: String) -> Self {
        let remote = NameAddr::new(Uri::Other { scheme: "invalid".into(), rest: "x".into() });
        Self {
            id,
            direction,
            state,
            dialog: None,
            call_id,
            local_tag,
            target: remote.uri.clone(),
            remote,
            invite: None,
            invite_cseq: 1,
            extra: Vec::new(),
            oa: OfferAnswer::default(),
            local_sdp: None,
            pending_offer: None,
            remote_sdp: None,
            local_hold: false,
            remote_hold: false,
            cancel: Cancel::None,
            ack: None,
            ack_waits_for_answer: None,
            await_ack: None,
            reoffer: None,
            incoming_reoffer: None,
            glare: None,
            reliable: Reliable { next_rseq: 1, ..Reliable::default() },
            peer: Peer::default(),
            session: None,
            session_interval: None,
            pending_session: None,
            transfer: None,
            refer_sub: None,
            asked_refer: None,
            referred_from: None,
            replaces: None,
            end_as: None,
            needs_refresh: false,
        }
    }

    pub(crate) fn info(&self) -> CallInfo {
        CallInfo {
            id: self.id,
            direction: self.direction,
            state: self.state,
            dialog: self.dialog.as_ref().map(|d| d.id().clone()),
            remote: self.remote.uri.clone(),
            local_hold: self.local_hold,
            remote_hold: self.remote_hold,
        }
    }

    /// Whether the call is set up (2xx sent or received) and not ending.
    pub(crate) fn is_connected(&self) -> bool {
        self.state == CallState::Connected
    }

    /// The earliest of this call's own timers.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let cancel = match self.cancel {
            Cancel::Sent { deadline } => Some(deadline),
            _ => None,
        };
        let ack = self.await_ack.as_ref().map(|a| a.resend.map_or(a.deadline, |r| r.at.min(a.deadline)));
        let rel = self.reliable.unacked.as_ref().map(|u| u.resend.map_or(u.deadline, |r| r.at.min(u.deadline)));
        [cancel, ack, rel, self.glare.as_ref().map(|g| g.at), self.session.map(|s| s.due)].into_iter().flatten().min()
    }
}

/// A REFER waiting for the application's decision.
#[derive(Debug, Clone)]
pub(crate) struct AskedRefer {
    pub(crate) tx: TxId,
    pub(crate) target: Uri,
    pub(crate) replaces: Option<String>,
    pub(crate) referred_by: String,
}
