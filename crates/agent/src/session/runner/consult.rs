//! Transfers: the warm transfer's steps (`control::consult` decides them),
//! blind transfer, the REFER's progress, and a REFER from the far end
//! (`control::transferee` checks it against the dial policy).

use warmline_sip::Uri;
use warmline_sip::ua::{self, TransferProgress};

use super::{Runner, TransferNote, call_name, now};
use crate::control::consult::{Joined, Refusal, Step};
use crate::control::negotiation::Reoffer;
use crate::control::transferee::{self, Decision};
use crate::{AgentEvent, Error, TransferMode};

fn refused(r: Refusal) -> Error {
    Error::Invalid(
        match r {
            Refusal::Busy => "a warm transfer is already in progress",
            Refusal::NoConsult => "no consult for that: start a warm transfer and wait for the expert",
        }
        .into(),
    )
}

impl Runner {
    pub(super) async fn transfer_command(
        &mut self,
        to: &str,
        mode: TransferMode,
        call: Option<&str>,
    ) -> Result<(), Error> {
        if self.transfer.state().is_some() {
            return Err(refused(Refusal::Busy));
        }
        let uri = self.target(to)?;
        let customer = self.pick(call, |c| c.phase.connected(), "connected")?;
        match mode {
            TransferMode::Blind => {
                let target = uri.to_string();
                self.ua(move |ua, now| ua.transfer_blind(now, customer, uri)).await?.map_err(Error::Sip)?;
                self.note_transfer(customer, target, false);
                Ok(())
            }
            TransferMode::Warm => self.warm_transfer(customer, uri, Joined::Consulting).await,
            TransferMode::Conference => self.warm_transfer(customer, uri, Joined::Conference).await,
        }
    }

    async fn warm_transfer(&mut self, customer: ua::CallId, expert: Uri, then: Joined) -> Result<(), Error> {
        let target = expert.to_string();
        if self.calls.get(&customer).is_some_and(|c| c.phase.live()) {
            self.reoffer(customer, Reoffer::Hold).await?;
        }
        let customer_uid = self.calls.get(&customer).map(|c| c.uid.clone()).filter(|u| !u.is_empty());
        let consult = match self.dial(expert, customer_uid).await {
            Ok(id) => id,
            Err(e) => {
                self.reoffer(customer, Reoffer::Resume).await?;
                return Err(e);
            }
        };
        if let Some(c) = self.calls.get_mut(&consult) {
            c.consult_for = Some(customer);
        }
        let ring_for = self.config.transfer_ring_timeout;
        let steps = self.transfer.start(now(), customer, consult, ring_for, then).map_err(refused)?;
        self.note_transfer(customer, target, true);
        self.carry_out(steps).await;
        Ok(())
    }

    pub(super) async fn complete_transfer(&mut self) -> Result<(), Error> {
        let steps = self.transfer.complete(now()).map_err(refused)?;
        self.carry_out(steps).await;
        Ok(())
    }

    pub(super) async fn cancel_transfer(&mut self) -> Result<(), Error> {
        let steps = self.transfer.cancel().map_err(|_| Error::Invalid("no warm transfer to cancel".into()))?;
        self.carry_out(steps).await;
        Ok(())
    }

    /// Joins the customer and the consulted expert: the customer comes off
    /// hold and the agent's mixer gives each party the other two.
    pub(super) async fn conference(&mut self) -> Result<(), Error> {
        let steps = self.transfer.conference().map_err(refused)?;
        self.carry_out(steps).await;
        Ok(())
    }

    /// Carries out what the warm transfer decided, in order.
    pub(super) async fn carry_out(&mut self, steps: Vec<Step<ua::CallId>>) {
        for step in steps {
            match step {
                Step::Hangup(call) => {
                    if let Err(e) = self.hangup(call).await {
                        self.error(&e);
                    }
                }
                Step::Resume(call) => {
                    if self.calls.get(&call).is_some_and(|c| c.phase.held())
                        && let Err(e) = self.reoffer(call, Reoffer::Resume).await
                    {
                        self.error(&e);
                    }
                }
                Step::Refer { customer, expert } => {
                    let sent = self.ua(move |ua, now| ua.transfer_attended(now, customer, expert)).await;
                    let failure = match sent {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(why) = failure {
                        let more = self.transfer.refer_failed(why.clone(), format!("{why}; both calls are still up"));
                        Box::pin(self.carry_out(more)).await;
                    }
                }
                Step::Phase { customer, phase, reason } => {
                    self.emit(AgentEvent::Transfer { call: call_name(customer), phase, reason });
                }
                Step::Outcome { customer, outcome, reason } => self.transfer_outcome(customer, outcome, reason),
            }
        }
    }

    fn note_transfer(&mut self, call: ua::CallId, target: String, warm: bool) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.transfer = Some(TransferNote { target, warm });
        }
    }

    /// A transfer of `call` ended this way: into the history.
    fn transfer_outcome(&mut self, call: ua::CallId, outcome: warmline_store::TransferOutcome, reason: Option<String>) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        let Some(note) = c.transfer.take() else { return };
        if !c.uid.is_empty() {
            let uid = c.uid.clone();
            self.records.transfer(&uid, &note.target, note.warm, outcome, reason);
        }
    }

    /// The REFER's NOTIFYs: a warm transfer's goes to its state machine,
    /// a blind one's straight to the agent.
    pub(super) async fn transfer_progress(&mut self, call: ua::CallId, progress: TransferProgress) {
        let (outcome_reason, told) = match progress {
            TransferProgress::Succeeded => {
                if self.transfer.customer() == Some(call) {
                    let steps = self.transfer.refer_succeeded();
                    return self.carry_out(steps).await;
                }
                self.transfer_outcome(call, warmline_store::TransferOutcome::Completed, None);
                self.emit(AgentEvent::Transfer {
                    call: call_name(call),
                    phase: crate::TransferPhase::Completed,
                    reason: None,
                });
                return;
            }
            TransferProgress::Refused { status } => (
                format!("refused ({status})"),
                format!("the far end refused the transfer ({status}); both calls are still up"),
            ),
            TransferProgress::Failed { status } => (
                format!("failed ({status})"),
                format!("the transfer target could not be reached ({status}); the calls are still up"),
            ),
            _ => return,
        };
        if self.transfer.customer() == Some(call) {
            let steps = self.transfer.refer_failed(outcome_reason, told);
            return self.carry_out(steps).await;
        }
        self.transfer_outcome(call, warmline_store::TransferOutcome::Failed, Some(outcome_reason));
        self.emit(AgentEvent::Transfer {
            call: call_name(call),
            phase: crate::TransferPhase::Failed,
            reason: Some(told),
        });
    }

    /// The far end asks our phone to call `target`: only within the dial policy.
    pub(super) async fn transfer_asked(&mut self, call: ua::CallId, target: Uri) {
        match transferee::decide(&self.config.dial_policy, &target) {
            Decision::Accept => self.ua_or_report(move |ua, now| ua.accept_transfer(now, call)).await,
            Decision::Refuse { status, told } => {
                tracing::warn!("{}: a REFER to {target} refused with {status} by the dial policy", call_name(call));
                self.ua_or_report(move |ua, now| ua.refuse_transfer(now, call, status)).await;
                self.error(&Error::TransferBlocked(told));
            }
        }
    }
}
