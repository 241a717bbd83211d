//! Hanging up: BYE both ways, and `hangup` choosing between CANCEL, a
//! reject and BYE by the call's state.

use std::time::Instant;

use super::event::{CallId, CallState, EndReason};
use super::transactions::{Op, Owner, TxId};
use super::{Error, UserAgent};
use crate::message::{Method, Response};

impl UserAgent {
    /// Ends a call whatever its state: CANCEL while ours rings, 603 Decline
    /// while theirs does, BYE once answered.
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), Error> {
        let c = self.calls.get(&call).ok_or(Error::UnknownCall(call))?;
        match (c.state, c.direction) {
            (CallState::AwaitingOffer, _) => self.end_call(now, call, EndReason::LocalHangup, None),
            (CallState::Incoming, _) => return self.reject(now, call, 603),
            (CallState::Dialing | CallState::Ringing | CallState::Early, _) => self.cancel_call(now, call),
            (CallState::Connected, _) => self.bye_call(now, call, EndReason::LocalHangup, None),
            (CallState::Terminating, _) => return Err(self.wrong_state(call, "hangup")),
        }
        self.flush(now);
        Ok(())
    }

    /// Sends BYE, reports the call ended, and forgets it once the BYE is
    /// answered.
    pub(super) fn bye_call(&mut self, now: Instant, id: CallId, reason: EndReason, status: Option<u16>) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.state == CallState::Terminating {
            return; // a BYE is already out
        }
        if call.dialog.is_none() {
            return self.end_call(now, id, reason, status);
        }
        match self.in_dialog(id, Method::Bye) {
            Ok(bye) => {
                self.send_request(now, bye, Owner::Call(id, Op::Bye));
                self.announce_end(id, reason, status);
                for (tx, method) in self.txs.pending_servers_of(id) {
                    self.reply(now, tx, if method == Method::Invite { 487 } else { 481 });
                }
            }
            Err(_) => self.end_call(now, id, reason, status),
        }
    }

    pub(super) fn on_bye(&mut self, now: Instant, tx: TxId, id: CallId) {
        self.reply(now, tx, 200);
        let Some(call) = self.calls.get(&id) else { return };
        if call.state == CallState::Terminating {
            // Our BYE crossed theirs; Ended is already out.
            return self.forget(now, id);
        }
        let succeeded = call.refer_sub.is_some_and(|s| s.succeeded);
        // The target ends the consultation call as soon as it has answered
        // the transferee, usually before the NOTIFY 200 reaches us.
        let consulted = self.calls.values().any(|c| c.transfer.is_some_and(|t| t.consult == Some(id) && t.accepted));
        let reason = if succeeded || consulted { EndReason::Transferred } else { EndReason::RemoteHangup };
        self.end_call(now, id, reason, None);
    }

    pub(super) fn on_bye_response(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        if response.status < 200 {
            return;
        }
        if matches!(response.status, 401 | 407)
            && let Some(retry) = self.retry_with_credentials(now, tx, &response)
        {
            let _ = retry;
            return;
        }
        self.forget(now, id);
    }
}
