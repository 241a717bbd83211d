//! Calls coming and going: an incoming INVITE through admission to
//! ringing, answering, dialling, connecting, and the end of a call with
//! what follows it (wrap-up, a missed offer, the transfer's way back).

use std::sync::Arc;

use warmline_media::session::MediaSession;
use warmline_sip::Uri;
use warmline_sip::ua::{self, EndReason};

use super::{Answerer, Call, Offer, Runner, call_name, media_err, now};
use crate::control::admission::{self, Admission};
use crate::control::call::{Phase, Talk};
use crate::control::consult::LegEnd;
use crate::dial_policy::Target;
use crate::events::CallDirection;
use crate::session::audio::Control;
use crate::{AgentEvent, CallState, Error};

impl Runner {
    /// Shows a call's new phase, when the agent sees it.
    pub(super) fn set_phase(&mut self, call: ua::CallId, phase: Phase) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.phase = phase;
        self.show_call(call);
    }

    /// Emits the call's state as its phase shows it.
    pub(super) fn show_call(&self, call: ua::CallId) {
        if let Some(event) =
            self.calls.get(&call).and_then(|c| c.phase.shown()).and_then(|state| self.call_event(call, state))
        {
            self.emit(event);
        }
    }

    pub(super) fn target(&self, to: &str) -> Result<Uri, Error> {
        let text = match self.config.dial_policy.allows(to).map_err(Error::Dial)? {
            Target::Number(n) => format!("sip:{n}@{}", self.config.domain),
            Target::Address { user, .. } => format!("sip:{user}"),
        };
        text.parse().map_err(|e| Error::Invalid(format!("{to}: {e}")))
    }

    /// The INVITE is here; its offer (or the lack of one) follows at once
    /// and decides, with the agent's state, what the caller gets.
    pub(super) async fn incoming(&mut self, call: ua::CallId, info: &ua::IncomingCall) {
        let replaces = info.replaces.is_some_and(|r| self.calls.contains_key(&r));
        let mut c = Call::new(Phase::Offered, CallDirection::Inbound);
        c.offer = Offer::Awaited;
        c.answerer = match (replaces, info.auto_answer) {
            (true, _) => Answerer::Replacing,
            (false, true) => Answerer::AutoAnswer,
            (false, false) => Answerer::Agent,
        };
        if !replaces {
            let caller = &info.data.caller;
            let from = match &caller.uri {
                Uri::Sip(u) => match &u.user {
                    Some(user) => format!("{user}@{}", u.host),
                    None => u.host.to_string(),
                },
                other => other.to_string(),
            };
            let field = |name: &str| {
                info.data.fields.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
            };
            c.queue = self.config.sip.call_data_headers.first().and_then(|h| field(h));
            c.case = self.config.sip.call_data_headers.get(1).and_then(|h| field(h));
            c.party = self.records.normalise(&from);
            c.name = caller.display_name.clone();
            let announce = AgentEvent::Incoming {
                call: call_name(call),
                from: c.party.clone(),
                display_name: caller.display_name.clone(),
                queue: c.queue.clone(),
                case: c.case.clone(),
            };
            // The screen pop: what the cache knows at once, the CRM's answer later.
            let customer = self.records.context(&call_name(call), &c.party, c.queue.clone(), c.case.clone());
            let context = AgentEvent::Context { call: call_name(call), customer };
            c.screen_pop = Some(Box::new((announce, context)));
            c.uid = format!("{}-{}", self.session_tag, call_name(call));
        }
        // The target side of an attended transfer takes over a call we
        // have: nothing rings and nothing is kept separately.
        self.calls.insert(call, c);
    }

    /// An offered call's offer is known: admit it, ring it, or refuse it.
    async fn admit(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get(&call) else { return };
        let sdp = match &c.offer {
            Offer::Sdp(sdp) => Some(sdp.as_slice()),
            _ => None,
        };
        let others = self.calls.iter().filter(|(id, o)| **id != call && o.phase != Phase::Ending).count();
        let decision = admission::admit(
            admission::Offered {
                replaces_ours: c.answerer == Answerer::Replacing,
                auto_answer: c.answerer == Answerer::AutoAnswer,
                sdp,
            },
            admission::Desk {
                ready: self.desk.ready(),
                calls: others,
                acd: self.config.acd,
                call_waiting: self.config.agent.call_waiting,
                codecs: &self.config.media.codecs,
            },
        );
        match decision {
            Admission::Refuse { status, why } => {
                tracing::info!("{} refused with {status}: {why}", call_name(call));
                self.calls.remove(&call);
                self.ua_or_report(move |ua, now| ua.reject(now, call, status)).await;
            }
            Admission::Replace => self.auto_answer(call).await,
            Admission::AutoAnswer => {
                self.call_offered(call);
                self.auto_answer(call).await;
            }
            Admission::Ring | Admission::RingQuietly => {
                self.ua_or_report(move |ua, now| ua.ring(now, call)).await;
                // The devices open at ring time: an answer has audio at once.
                let _ = self.audio.send(Control::Ringing(call.get())).await;
                self.call_offered(call);
                let quietly = decision == Admission::RingQuietly;
                self.set_phase(call, Phase::Ringing { quietly, since: now() });
            }
        }
        self.show_state();
    }

    /// An admitted call: into the history, and the screen pop shown.
    fn call_offered(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        let pop = c.screen_pop.take();
        self.records.call_started(warmline_store::CallStart {
            call_uid: c.uid.clone(),
            direction: warmline_store::Direction::Inbound,
            local_party: self.config.sip.aor.to_string(),
            remote_party: c.party.clone(),
            remote_display: match pop.as_deref() {
                Some((AgentEvent::Incoming { display_name, .. }, _)) => display_name.clone(),
                _ => None,
            },
            started_at: warmline_store::Timestamp::now(),
            queue: c.queue.clone(),
            case_id: c.case.clone(),
            consult_for: None,
        });
        if let Some(pop) = pop {
            let (announce, context) = *pop;
            self.emit(announce);
            self.emit(context);
        }
    }

    async fn auto_answer(&mut self, call: ua::CallId) {
        if let Err(e) = self.answer(call).await {
            self.error(&e);
            self.calls.remove(&call);
            let _ = self.ua(move |ua, now| ua.reject(now, call, 500)).await;
        }
    }

    pub(super) async fn new_media(&mut self, id: ua::CallId) -> Result<Arc<MediaSession>, Error> {
        let (session, port) = MediaSession::new(self.config.media.clone()).await.map_err(media_err)?;
        let session = Arc::new(session);
        self.attach_audio(id, port).await;
        if let Some(c) = self.calls.get_mut(&id) {
            c.media = Some(Arc::clone(&session));
        }
        Ok(session)
    }

    /// The call's audio joins the agent's, and its media events come here.
    async fn attach_audio(&mut self, id: ua::CallId, port: warmline_media::session::AudioPort) {
        let key = id.get();
        let _ = self.audio.send(Control::Add { key, input: port.input, output: port.output }).await;
        let tx = self.media_tx.clone();
        let mut events = port.events;
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if tx.send((key, e)).is_err() {
                    break;
                }
            }
        });
    }

    /// Calls `uri`; `consult_for` names the customer call (its history id)
    /// when this is a warm transfer's consult call.
    pub(super) async fn dial(&mut self, uri: Uri, consult_for: Option<String>) -> Result<ua::CallId, Error> {
        let uri_text = match &uri {
            Uri::Sip(u) => u.user.as_ref().map(|user| format!("{user}@{}", u.host)),
            _ => None,
        };
        let (session, port) = MediaSession::new(self.config.media.clone()).await.map_err(media_err)?;
        let offer = match session.create_offer().await {
            Ok(o) => o,
            Err(e) => {
                let _ = session.close().await;
                return Err(media_err(e));
            }
        };
        let id = match self.ua(move |ua, now| ua.dial(now, uri, offer.into_bytes())).await {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => {
                let _ = session.close().await;
                return Err(Error::Sip(e));
            }
            Err(e) => return Err(e),
        };
        self.attach_audio(id, port).await;
        let party = uri_text.map(|t| self.records.normalise(&t)).unwrap_or_default();
        let uid = format!("{}-{}", self.session_tag, call_name(id));
        let mut c = Call::new(Phase::Dialling, CallDirection::Outbound);
        c.media = Some(Arc::new(session));
        c.uid = uid.clone();
        c.party = party.clone();
        self.calls.insert(id, c);
        self.records.call_started(warmline_store::CallStart {
            call_uid: uid,
            direction: warmline_store::Direction::Outbound,
            local_party: self.config.sip.aor.to_string(),
            remote_party: party,
            remote_display: None,
            started_at: warmline_store::Timestamp::now(),
            queue: None,
            case_id: None,
            consult_for,
        });
        self.show_state();
        Ok(id)
    }

    pub(super) async fn answer(&mut self, id: ua::CallId) -> Result<(), Error> {
        let offer = match self.calls.get(&id) {
            Some(c) if c.media.is_some() => return Err(Error::Invalid(format!("{} is being answered", call_name(id)))),
            Some(c) => c.offer.clone(),
            None => return Err(Error::NoCall(call_name(id))),
        };
        // Call waiting: taking the second call holds the first.
        let talking: Vec<ua::CallId> =
            self.calls.iter().filter(|(other, c)| **other != id && c.phase.live()).map(|(other, _)| *other).collect();
        for other in talking {
            if let Err(e) = self.reoffer(other, crate::control::negotiation::Reoffer::Hold).await {
                self.error(&e);
            }
        }
        let media = self.new_media(id).await?;
        let sdp = match offer {
            Offer::Sdp(offer) => media.accept_offer(&String::from_utf8_lossy(&offer)).await.map_err(media_err)?,
            Offer::OursInAnswer => media.create_offer().await.map_err(media_err)?,
            Offer::Awaited | Offer::Settled => {
                return Err(Error::Invalid("the call's offer has not arrived yet".into()));
            }
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.phase = Phase::Answering;
            c.offer = Offer::Settled;
        }
        self.desk.offer_answered();
        self.ua(move |ua, now| ua.answer(now, id, sdp.into_bytes())).await?.map_err(Error::Sip)
    }

    pub(super) async fn hangup(&mut self, id: ua::CallId) -> Result<(), Error> {
        self.ua(move |ua, now| ua.hangup(now, id)).await?.map_err(Error::Sip)
    }

    pub(super) async fn connected(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.phase = Phase::Connected(Talk::default());
        c.talked = true;
        self.records.call_answered(&c.uid);
        let _ = self.audio.send(Control::Live(call.get(), true)).await;
        self.show_call(call);
        let steps = self.transfer.answered(call);
        self.carry_out(steps).await;
    }

    pub(super) async fn offer_received(&mut self, call: ua::CallId, sdp: Vec<u8>) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if c.phase == Phase::Offered {
            c.offer = Offer::Sdp(sdp);
            return self.admit(call).await;
        }
        let Some(media) = c.media.clone() else { return };
        match media.accept_offer(&String::from_utf8_lossy(&sdp)).await {
            Ok(answer) => self.ua_or_report(move |ua, now| ua.accept_answer(now, call, answer.into_bytes())).await,
            Err(e) => {
                self.error(&media_err(e));
                let _ = self.ua(move |ua, now| ua.reject_offer(now, call, 488)).await;
            }
        }
    }

    pub(super) async fn offer_needed(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if c.phase == Phase::Offered {
            c.offer = Offer::OursInAnswer;
            return self.admit(call).await;
        }
        let media = match c.media.clone() {
            Some(m) => m,
            None => match self.new_media(call).await {
                Ok(m) => m,
                Err(e) => {
                    self.error(&e);
                    let _ = self.hangup(call).await;
                    return;
                }
            },
        };
        match media.create_offer().await {
            Ok(offer) => self.ua_or_report(move |ua, now| ua.provide_offer(now, call, offer.into_bytes())).await,
            Err(e) => {
                self.error(&media_err(e));
                let _ = self.hangup(call).await;
            }
        }
    }

    pub(super) async fn answer_received(&mut self, call: ua::CallId, sdp: Vec<u8>) {
        let media = self.calls.get(&call).and_then(|c| c.media.clone());
        if let Some(media) = media
            && let Err(e) = media.accept_answer(&String::from_utf8_lossy(&sdp)).await
        {
            self.error(&media_err(e));
            let _ = self.hangup(call).await;
        }
        self.media_back(call);
    }

    pub(super) async fn ended(&mut self, call: ua::CallId, reason: EndReason, status: Option<u16>) {
        let Some(c) = self.calls.get(&call) else { return };
        let (uid, talked, quality) = (c.uid.clone(), c.talked, c.quality);
        let rang_out = c.phase.ringing_here() && matches!(reason, EndReason::RemoteCancelled | EndReason::Timeout);
        let consult = c.consult_for.is_some();
        let ended = self.call_event(call, CallState::Ended { reason: end_reason(reason, status) });
        if !uid.is_empty() {
            if let Some((mos, loss, jitter)) = quality {
                self.records.quality(&uid, mos, loss, jitter);
            }
            self.records.call_ended(&uid);
        }
        self.forget(call).await;
        // A call the agent talked on (not a consult) is followed by wrap-up.
        if talked && !consult && !uid.is_empty() {
            self.desk.call_ended(now(), &uid);
        }
        if rang_out && self.desk.offer_missed() {
            tracing::info!("offers missed in a row: the agent is away (missed call)");
        }
        if let Some(ended) = ended {
            self.emit(ended);
        }
        let why = match reason {
            EndReason::Busy => LegEnd::Busy,
            EndReason::Declined | EndReason::Rejected => LegEnd::Declined,
            EndReason::Timeout | EndReason::Cancelled => LegEnd::NoAnswer,
            EndReason::RemoteHangup => LegEnd::HungUp,
            EndReason::Transferred | EndReason::Replaced => LegEnd::Transferred,
            other => LegEnd::Other(end_reason(other, status)),
        };
        let steps = self.transfer.ended(call, why);
        self.carry_out(steps).await;
        self.show_state();
    }

    pub(super) async fn forget(&mut self, id: ua::CallId) {
        let Some(call) = self.calls.remove(&id) else { return };
        let _ = self.audio.send(Control::Remove(id.get())).await;
        if let Some(media) = call.media {
            match Arc::try_unwrap(media) {
                Ok(m) => {
                    if let Err(e) = m.close().await {
                        tracing::debug!("closing media of {}: {e}", call_name(id));
                    }
                }
                Err(_) => tracing::debug!("media of {} still shared at the end", call_name(id)),
            }
        }
    }
}

pub(super) fn end_reason(reason: EndReason, status: Option<u16>) -> String {
    let text = match reason {
        EndReason::LocalHangup => "local hangup",
        EndReason::RemoteHangup => "remote hangup",
        EndReason::Cancelled => "cancelled",
        EndReason::RemoteCancelled => "caller cancelled",
        EndReason::Rejected => "rejected",
        EndReason::Busy => "busy",
        EndReason::Declined => "declined",
        EndReason::Redirected => "redirected",
        EndReason::Timeout => "no answer",
        EndReason::SessionExpired => "session expired",
        EndReason::Transferred => "transferred",
        EndReason::Replaced => "replaced",
        _ => "failed",
    };
    match status {
        Some(s) if matches!(reason, EndReason::Failed | EndReason::Rejected) => format!("{text} ({s})"),
        _ => text.to_owned(),
    }
}
