//! Hold, resume and ICE restart: the media's direction, a new offer, the
//! re-INVITE when the user agent can take it, and the rollback when the
//! far end refuses it (`control::negotiation` keeps the books).

use warmline_media::sdp::Direction;
use warmline_sip::ua::{self, ReofferMethod};

use super::{Runner, call_name, media_err};
use crate::control::call::{Link, Remote};
use crate::control::negotiation::{Hold, Reoffer, Rollback};
use crate::session::audio::Control;
use crate::{CallState, Error};

fn direction(hold: Hold) -> Direction {
    match hold {
        Hold::Held => Direction::SendOnly,
        Hold::Live => Direction::SendRecv,
    }
}

impl Runner {
    pub(super) async fn hold_command(&mut self, call: Option<&str>) -> Result<(), Error> {
        let id = self.pick(call, |c| c.phase.live(), "active")?;
        self.reoffer(id, Reoffer::Hold).await
    }

    pub(super) async fn resume_command(&mut self, call: Option<&str>) -> Result<(), Error> {
        let id = self.pick(call, |c| c.phase.held(), "held")?;
        self.reoffer(id, Reoffer::Resume).await
    }

    pub(super) async fn dtmf(&mut self, digits: &str, call: Option<&str>) -> Result<(), Error> {
        if digits.is_empty() || !digits.chars().all(|d| d.is_ascii_digit() || "*#ABCD".contains(d)) {
            return Err(Error::Invalid("DTMF digits are 0-9, *, #, A-D".into()));
        }
        let id = self.pick(call, |c| c.phase.live(), "active")?;
        let media = self.calls.get(&id).and_then(|c| c.media.clone()).ok_or(Error::NoCall("active".into()))?;
        for d in digits.chars() {
            media.send_dtmf(d).map_err(media_err)?;
        }
        // The agent hears the keys as a desk phone plays them.
        let _ = self.audio.send(Control::DtmfFeedback(digits.to_owned())).await;
        Ok(())
    }

    /// Hold or resume: what the agent hears and says follows at once, the
    /// re-INVITE goes out when the user agent can take it.
    pub(super) async fn reoffer(&mut self, id: ua::CallId, what: Reoffer) -> Result<(), Error> {
        let (media, hold) = match self.calls.get(&id) {
            Some(c) => match (&c.media, c.phase.connected()) {
                (Some(m), true) => (m.clone(), if c.phase.held() { Hold::Held } else { Hold::Live }),
                _ => return Err(Error::NoCall(call_name(id))),
            },
            None => return Err(Error::NoCall(call_name(id))),
        };
        let wanted = what.leads_to(hold);
        media.set_direction(direction(wanted)).await.map_err(media_err)?;
        let offer = media.create_offer().await.map_err(media_err)?.into_bytes();
        if let Some(c) = self.calls.get_mut(&id) {
            c.negotiation.request(what, offer, hold);
            if let Some(talk) = c.phase.talk_mut() {
                talk.hold = wanted;
            }
        }
        let _ = self.audio.send(Control::Live(id.get(), wanted == Hold::Live)).await;
        self.send_reoffer(id).await
    }

    /// Sends the call's waiting re-offer, if the user agent can take it now.
    async fn send_reoffer(&mut self, id: ua::CallId) -> Result<(), Error> {
        let Some(w) = self.calls.get(&id).and_then(|c| c.negotiation.next().cloned()) else { return Ok(()) };
        let (what, offer) = (w.what, w.offer);
        let sent = self
            .ua(move |ua, now| match what {
                Reoffer::Hold => ua.hold(now, id, offer),
                Reoffer::Resume => ua.resume(now, id, offer),
                Reoffer::IceRestart => ua.reoffer(now, id, offer, ReofferMethod::Invite),
            })
            .await?;
        match sent {
            Err(ua::Error::OfferPending(_)) => Ok(()),
            Ok(()) => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.negotiation.sent();
                }
                Ok(())
            }
            Err(e) => {
                let rollback = self.calls.get_mut(&id).and_then(|c| c.negotiation.failed());
                if let Some(r) = rollback {
                    self.roll_back(id, r).await;
                }
                Err(Error::Sip(e))
            }
        }
    }

    /// After each user-agent event: re-offers that had to wait.
    pub(super) async fn retry_reoffers(&mut self) {
        let waiting: Vec<ua::CallId> =
            self.calls.iter().filter(|(_, c)| c.negotiation.next().is_some()).map(|(id, _)| *id).collect();
        for id in waiting {
            if let Err(e) = self.send_reoffer(id).await {
                self.error(&e);
            }
        }
    }

    /// The far end took our re-offer (hold or resume confirmed).
    pub(super) fn reoffer_answered(&mut self, call: ua::CallId) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.negotiation.answered();
        }
        self.show_call(call);
    }

    /// The far end refused our re-offer: everything goes back to how it
    /// was, and the agent is told it may try again.
    pub(super) async fn reoffer_refused(&mut self, call: ua::CallId, status: u16) {
        let Some(rollback) = self.calls.get_mut(&call).and_then(|c| c.negotiation.refused()) else { return };
        self.roll_back(call, rollback).await;
        let what = match rollback.what {
            Reoffer::Hold => "hold",
            Reoffer::Resume => "resume",
            Reoffer::IceRestart => "reconnect",
        };
        self.error(&Error::OfferRefused { call: call_name(call), what, status });
    }

    async fn roll_back(&mut self, call: ua::CallId, rollback: Rollback) {
        let media = self.calls.get(&call).and_then(|c| c.media.clone());
        if let Some(media) = media
            && let Err(e) = media.withdraw_offer(direction(rollback.to)).await
        {
            tracing::warn!("{}: rolling back the refused offer: {e}", call_name(call));
        }
        if let Some(talk) = self.calls.get_mut(&call).and_then(|c| c.phase.talk_mut()) {
            talk.hold = rollback.to;
            if rollback.what == Reoffer::IceRestart {
                talk.link = Link::Up;
            }
        }
        let _ = self.audio.send(Control::Live(call.get(), rollback.to == Hold::Live)).await;
        self.show_call(call);
    }

    pub(super) fn remote_hold(&mut self, call: ua::CallId, holding: bool) {
        if let Some(talk) = self.calls.get_mut(&call).and_then(|c| c.phase.talk_mut()) {
            talk.remote = if holding { Remote::Holding } else { Remote::Talking };
        }
        self.show_call(call);
    }

    /// The SIP flow of a call is being restored, or is back.
    pub(super) fn link(&mut self, call: ua::CallId, reconnecting: bool) {
        if let Some(talk) = self.calls.get_mut(&call).and_then(|c| c.phase.talk_mut()) {
            talk.link = if reconnecting { Link::Reconnecting } else { Link::Up };
        }
        self.show_call(call);
    }

    /// The host's network changed: every connected call restarts ICE
    /// (new credentials, new candidates) with a re-INVITE, and shows
    /// `reconnecting` until its media is up again.
    pub(super) async fn network_changed(&mut self, why: &str) {
        let calls: Vec<ua::CallId> =
            self.calls.iter().filter(|(_, c)| c.phase.connected() && c.media.is_some()).map(|(id, _)| *id).collect();
        tracing::info!("network changed ({why}): restarting ICE on {} call(s)", calls.len());
        for id in calls {
            if let Err(e) = self.restart_ice(id).await {
                self.error(&e);
            }
        }
    }

    async fn restart_ice(&mut self, id: ua::CallId) -> Result<(), Error> {
        let media = self.calls.get(&id).and_then(|c| c.media.clone()).ok_or(Error::NoCall(call_name(id)))?;
        let offer = media.restart_ice().await.map_err(media_err)?.into_bytes();
        if let Some(c) = self.calls.get_mut(&id) {
            let hold = if c.phase.held() { Hold::Held } else { Hold::Live };
            c.negotiation.request(Reoffer::IceRestart, offer, hold);
            if let Some(talk) = c.phase.talk_mut() {
                talk.link = Link::Reconnecting;
            }
        }
        if let Some(event) = self.call_event(id, CallState::Reconnecting) {
            self.emit(event);
        }
        self.send_reoffer(id).await
    }

    /// A reconnecting call whose media is up again shows its state again.
    pub(super) fn media_back(&mut self, id: ua::CallId) {
        let Some(c) = self.calls.get_mut(&id) else { return };
        let up = c.media.as_ref().is_some_and(|m| m.is_connected());
        let Some(talk) = c.phase.talk_mut() else { return };
        if talk.link != Link::Reconnecting || !up {
            return;
        }
        talk.link = Link::Up;
        self.show_call(id);
    }
}
