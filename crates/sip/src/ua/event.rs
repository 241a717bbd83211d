//! What the user agent tells its owner, and the ids it names calls by.

use std::fmt;
use std::time::Duration;

use crate::call_data::CallData;
use crate::dialog::DialogId;
use crate::message::Uri;

/// A call, as the user agent and its owner name it. Small and `Copy`;
/// ids are never reused within one user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub(crate) u32);

impl CallId {
    /// The number behind the id, for logs and IPC.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Who started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We sent the INVITE.
    Outgoing,
    /// The far end did.
    Incoming,
}

/// Where a call is. Ended calls are gone from the user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallState {
    /// Created by a transfer request; waits for the owner's offer
    /// ([`UserAgent::provide_offer`](super::UserAgent::provide_offer))
    /// before the INVITE goes out.
    AwaitingOffer,
    /// INVITE sent, nothing but 100 back.
    Dialing,
    /// 180 received.
    Ringing,
    /// A provisional response with SDP received (early media).
    Early,
    /// An INVITE arrived and waits for answer or reject.
    Incoming,
    /// 2xx sent or received.
    Connected,
    /// BYE or CANCEL sent; waiting for the far end to confirm.
    Terminating,
}

impl CallState {
    /// The name, for logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            CallState::AwaitingOffer => "awaiting-offer",
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Early => "early",
            CallState::Incoming => "incoming",
            CallState::Connected => "connected",
            CallState::Terminating => "terminating",
        }
    }
}

/// A snapshot of one call, for the owner's bookkeeping and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// The call.
    pub id: CallId,
    /// Who started it.
    pub direction: Direction,
    /// Where it is.
    pub state: CallState,
    /// The dialog (Call-ID and tags), once there is one.
    pub dialog: Option<DialogId>,
    /// The far end's URI.
    pub remote: Uri,
    /// We put the far end on hold (our last accepted offer was sendonly or
    /// inactive).
    pub local_hold: bool,
    /// The far end put us on hold (its last offer was sendonly or inactive).
    pub remote_hold: bool,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We hung up (BYE sent).
    LocalHangup,
    /// The far end hung up (BYE received).
    RemoteHangup,
    /// We cancelled before an answer (487, or a 2xx raced the CANCEL and
    /// was ended with BYE).
    Cancelled,
    /// The caller cancelled before we answered.
    RemoteCancelled,
    /// We rejected it with the status given.
    Rejected,
    /// The far end is busy (486, 600).
    Busy,
    /// The far end declined (603).
    Declined,
    /// The far end redirected us (3xx); see [`Event::Redirected`].
    Redirected,
    /// Another final failure (4xx-6xx), or a dialog that broke (481).
    Failed,
    /// No answer in time: Timer B, no ACK for our 2xx, or no response to
    /// a request in the dialog.
    Timeout,
    /// The session timer ran out with no refresh (RFC 4028).
    SessionExpired,
    /// The call was handed to someone else by a transfer.
    Transferred,
    /// A new call replaced it (RFC 3891).
    Replaced,
}

/// The progress of a transfer we asked for (as transferor, RFC 3515).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferProgress {
    /// The far end accepted the REFER (202).
    Accepted,
    /// The far end refused the REFER; both calls are as they were.
    Refused {
        /// Its status (403, 405, 501, 603 ...; 408 when it never answered).
        status: u16,
    },
    /// The transferee is calling the target (sipfrag 100).
    Trying,
    /// The target is ringing (sipfrag 180/183).
    Ringing,
    /// The target answered (sipfrag 2xx); our call to the transferee is
    /// ended with BYE next, as RFC 5589 asks.
    Succeeded,
    /// The transferee's call to the target failed; our calls stay up.
    Failed {
        /// The sipfrag status.
        status: u16,
    },
}

/// An incoming call, as [`Event::IncomingCall`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingCall {
    /// Caller identity, queue and case fields, User-to-User, answer-after.
    pub data: CallData,
    /// Whether the owner may answer without the agent (an `answer-after`
    /// came and [`Config::auto_answer`](super::Config::auto_answer) allows it).
    pub auto_answer: bool,
    /// The call this one replaces (RFC 3891, we are the transfer target):
    /// answer it and the old one is ended.
    pub replaces: Option<CallId>,
    /// Referred-By, when a transfer sent the caller here (RFC 3892).
    pub referred_by: Option<String>,
    /// Whether the INVITE carried an offer ([`Event::OfferReceived`]
    /// follows) or not ([`Event::OfferNeeded`] follows, and the answer
    /// comes in the ACK).
    pub has_offer: bool,
}

/// What the user agent tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A REGISTER went out on the current flow.
    Registering,
    /// The registrar accepted the binding.
    Registered {
        /// The lifetime it granted.
        expires: Duration,
    },
    /// The registrar refused, or did not answer (408).
    RegistrationFailed {
        /// The final status.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The binding was removed (after [`UserAgent::shutdown`](super::UserAgent::shutdown)).
    Unregistered,
    /// The ACD holds our availability (after
    /// [`UserAgent::publish_availability`](super::UserAgent::publish_availability)).
    Published {
        /// Whether it says we take calls.
        open: bool,
    },
    /// The ACD refused our availability, or did not answer (408).
    PublishFailed {
        /// The final status.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// Our availability was withdrawn (shutdown).
    Unpublished,
    /// The flow is gone; calls are kept while the transport reconnects.
    Reconnecting {
        /// Why.
        reason: String,
    },
    /// The flow is dead though the socket may look open (no keep-alive
    /// pong, or the registrar stopped answering); an
    /// [`Output::Reconnect`](crate::engine::Output::Reconnect) follows.
    FlowFailed {
        /// Why.
        reason: String,
    },
    /// A call came in; answer, reject or let it ring.
    IncomingCall {
        /// The new call.
        call: CallId,
        /// Who, from where, and what the contact center says about it.
        info: Box<IncomingCall>,
    },
    /// Our INVITE went out.
    Dialing {
        /// The call.
        call: CallId,
    },
    /// The far end is ringing (180).
    Ringing {
        /// The call.
        call: CallId,
    },
    /// Early media: a provisional response carried SDP.
    EarlyMedia {
        /// The call.
        call: CallId,
    },
    /// The call is answered (2xx received, or ours sent).
    Connected {
        /// The call.
        call: CallId,
    },
    /// Our hold offer was accepted.
    Held {
        /// The call.
        call: CallId,
    },
    /// Our resume offer was accepted.
    Resumed {
        /// The call.
        call: CallId,
    },
    /// The far end put us on hold.
    RemoteHeld {
        /// The call.
        call: CallId,
    },
    /// The far end took us off hold.
    RemoteResumed {
        /// The call.
        call: CallId,
    },
    /// Our re-offer (hold, resume, media change) was refused; the session
    /// stays as it was.
    OfferRejected {
        /// The call.
        call: CallId,
        /// The status (488, 500 ...).
        status: u16,
    },
    /// A 3xx came back: these are the Contacts it named.
    Redirected {
        /// The call (it ends next).
        call: CallId,
        /// Where the far end says to try.
        contacts: Vec<Uri>,
    },
    /// The call is over and forgotten.
    Ended {
        /// The call.
        call: CallId,
        /// Why.
        reason: EndReason,
        /// The SIP status involved, if any (486, 603, 487, 408 ...).
        status: Option<u16>,
    },
    /// The flow carrying this call's signalling is gone; media may go on.
    CallReconnecting {
        /// The call.
        call: CallId,
    },
    /// The call's dialog now points at the new flow (target refresh done).
    CallReconnected {
        /// The call.
        call: CallId,
    },
    /// The far end made an offer: answer it with
    /// [`UserAgent::accept_answer`](super::UserAgent::accept_answer) (or for a
    /// new incoming call, [`UserAgent::answer`](super::UserAgent::answer)).
    OfferReceived {
        /// The call.
        call: CallId,
        /// The SDP offer, as received.
        sdp: Vec<u8>,
    },
    /// The far end asks us for an offer (an INVITE or re-INVITE without
    /// SDP, or a transfer): give it with
    /// [`UserAgent::provide_offer`](super::UserAgent::provide_offer) (for a
    /// new incoming call, [`UserAgent::answer`](super::UserAgent::answer)).
    OfferNeeded {
        /// The call.
        call: CallId,
    },
    /// The far end answered our offer.
    AnswerReceived {
        /// The call.
        call: CallId,
        /// The SDP answer.
        sdp: Vec<u8>,
    },
    /// A DTMF digit came in an INFO (application/dtmf-relay or
    /// application/dtmf).
    Dtmf {
        /// The call.
        call: CallId,
        /// `0`-`9`, `*`, `#`, `A`-`D`, or `!` for a flash.
        digit: char,
        /// How long it was pressed, when the INFO says.
        duration: Option<Duration>,
    },
    /// Progress of a transfer we asked for (we are the transferor).
    Transfer {
        /// The call we asked to be transferred.
        call: CallId,
        /// How far it got.
        progress: TransferProgress,
    },
    /// The far end asked us to call someone else (we are the transferee)
    /// and policy allowed it: `new_call` waits for
    /// [`UserAgent::provide_offer`](super::UserAgent::provide_offer).
    TransferRequested {
        /// The call the REFER came in.
        call: CallId,
        /// The call to the transfer target.
        new_call: CallId,
        /// The Refer-To target (without its headers).
        target: Uri,
        /// Whether it replaces a call the target has (attended transfer).
        attended: bool,
    },
    /// The far end asks us to call `target` (a REFER), and the policy is
    /// [`ReferPolicy::Ask`](super::ReferPolicy::Ask): answer with
    /// [`UserAgent::accept_transfer`](super::UserAgent::accept_transfer) or
    /// [`UserAgent::refuse_transfer`](super::UserAgent::refuse_transfer).
    TransferAsked {
        /// The call the REFER came in.
        call: CallId,
        /// The Refer-To target (without its headers).
        target: Uri,
        /// Whether it replaces a call the target has (attended transfer).
        attended: bool,
    },
    /// A message from the network was malformed: answered with an error
    /// response when it was a request we could answer, else dropped.
    Malformed {
        /// What was wrong.
        error: crate::Error,
        /// Whether an error response went back.
        answered: bool,
    },
}
