//! CANCEL both ways (RFC 3261 section 9). Ours waits for a provisional
//! response before it may go (9.1), and a 2xx that crosses it gets ACK and
//! BYE; theirs matches our INVITE server transaction by branch and ends the
//! unanswered call with 487.

use std::time::Instant;

use super::UserAgent;
use super::call::Cancel;
use super::event::{CallId, CallState, EndReason};
use super::transactions::{Op, Owner};
use crate::message::{HeaderName, Request};

impl UserAgent {
    /// Cancels our unanswered INVITE: at once if a provisional response
    /// came, else as soon as one does.
    pub(super) fn cancel_call(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(tx) = call.invite else { return };
        if call.cancel != Cancel::None {
            return;
        }
        if self.txs.client_proceeding(tx) {
            self.send_cancel(now, id);
        } else if self.txs.client_pending(tx) {
            call.cancel = Cancel::Pending;
        }
    }

    pub(super) fn send_cancel(&mut self, now: Instant, id: CallId) {
        let deadline = now + self.config.timers.transaction_timeout();
        let Some(tx) = self.calls.get(&id).and_then(|c| c.invite) else { return };
        let Some(mut cancel) = self.txs.cancel_of(tx) else { return };
        cancel.headers.push(HeaderName::Reason, "SIP;cause=487;text=\"Request Terminated\"");
        self.send_request(now, cancel, Owner::Call(id, Op::Cancel));
        if let Some(call) = self.calls.get_mut(&id) {
            call.cancel = Cancel::Sent { deadline };
        }
    }

    /// No final response 64*T1 after our CANCEL: the far end is gone.
    pub(super) fn cancel_timeout(&mut self, now: Instant, id: CallId) {
        let due = self.calls.get(&id).is_some_and(|c| matches!(c.cancel, Cancel::Sent { deadline } if deadline <= now));
        if due {
            self.end_call(now, id, EndReason::Cancelled, None);
        }
    }

    pub(super) fn on_cancel(&mut self, now: Instant, request: Request) {
        if self.txs.server_input(now, &request) {
            return;
        }
        let invite = self.txs.invite_for_cancel(&request);
        let call = invite.and_then(|tx| self.txs.server_call(tx));
        let tx = self.txs.start_server(now, request, call, &mut self.outputs);
        let Some(invite) = invite else { return self.reply(now, tx, 481) };
        self.reply(now, tx, 200);
        // A final response already sent makes the CANCEL a no-op (9.2).
        if !self.txs.server_pending(invite) {
            return;
        }
        self.reply(now, invite, 487);
        let Some(id) = call else { return };
        let Some(c) = self.calls.get_mut(&id) else { return };
        if c.invite == Some(invite) && c.state == CallState::Incoming {
            c.oa.reject_remote();
            self.end_call(now, id, EndReason::RemoteCancelled, Some(487));
        } else if c.incoming_reoffer.is_some_and(|r| r.tx == invite) {
            c.incoming_reoffer = None;
            c.oa.reject_remote();
        }
    }
}
