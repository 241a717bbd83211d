//! Why a command to the user agent was refused.

use super::event::CallId;

/// A command the user agent cannot carry out. Nothing is sent when one is
/// returned, and the call is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No call has this id (it never existed or has ended).
    #[error("no call {0}")]
    UnknownCall(CallId),
    /// The call is not in a state where this command makes sense.
    #[error("{command} is not possible on {call} while it is {state}")]
    WrongState {
        /// The call.
        call: CallId,
        /// The command refused.
        command: &'static str,
        /// The call's state.
        state: &'static str,
    },
    /// An offer/answer exchange or another re-INVITE/UPDATE is in progress
    /// on this call; try again once it completes (RFC 3261 14.1, RFC 3311).
    #[error("an offer/answer exchange is in progress on {0}")]
    OfferPending(CallId),
    /// No offer is waiting for an answer from the owner on this call.
    #[error("no offer is waiting for an answer on {0}")]
    NoOfferPending(CallId),
    /// A transfer is already in progress on this call.
    #[error("a transfer is already in progress on {0}")]
    TransferInProgress(CallId),
    /// There is no connection to send on; wait for a Connected flow.
    #[error("not connected")]
    NotConnected,
    /// A status code that this command cannot send (a reject must be
    /// 300-699, a provisional 101-199).
    #[error("status {0} is not allowed here")]
    Status(u16),
    /// The request could not be built (a malformed URI).
    #[error(transparent)]
    Sip(#[from] crate::Error),
}
