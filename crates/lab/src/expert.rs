//! Simulated experts: Teams users behind Direct Routing. Each expert with a
//! phone number is a [`UserAgent`] attached inside the lab (a trunk
//! connection registering `sip:<number>@<domain>`) with real WebRTC audio,
//! like a customer. The lab's core routes an INVITE to that number through
//! the B2BUA ([`crate::sip`]); the expert answers it as its
//! [`Answer`] behaviour says:
//!
//! | behaviour | answer |
//! |---|---|
//! | `{ after_secs = N }` | 180, then 200 after N seconds |
//! | `"decline"` | 603 Decline |
//! | `"busy"`, or already on a call | 486 Busy Here |
//! | `"never"` | 180, and rings until the caller gives up |
//!
//! [`ExpertPhone`] is that decision, sans-IO: feed it the user agent's
//! events, give it media descriptions when it asks, call
//! [`ExpertPhone::handle_timeout`] when [`ExpertPhone::poll_timeout`] says.
//! The SIP core's tests drive it on simulated time; the lab runs it with
//! a `MediaSession` on tokio. Every renegotiation (the B2BUA joining the
//! expert to a transferred caller) gets a fresh media session, so ICE and
//! DTLS start over with the new peer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use warmline_media::session::{AudioPort, MediaConfig, MediaSession};
use warmline_sip::ua::{CallId, CallState, Config, EndReason, Event};
use warmline_sip::{Engine, Flow, Input, Output, Transport, UserAgent};

use crate::LabEvent;
use crate::control::Control;
use crate::scenario::{Answer, Audio};
use crate::sip::server::{Attacher, LocalFlow};

/// What the expert's phone did with a call (for [`LabEvent::Expert`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpertCallState {
    /// A call came in and rings.
    Ringing,
    /// The expert answered.
    Answered,
    /// The expert declined (603).
    Declined,
    /// The expert was busy (486).
    Busy,
    /// The call is over (or was given up while ringing).
    Ended,
}

/// What [`ExpertPhone`] asks of its owner, or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// Something for the lab's event stream.
    State {
        /// The call.
        call: CallId,
        /// What happened.
        state: ExpertCallState,
    },
    /// A call will be answered: prepare media and give its description
    /// with [`ExpertPhone::media_ready`]: an answer to `offer`, or an
    /// offer when there is none.
    PrepareMedia {
        /// The call.
        call: CallId,
        /// The caller's offer, if the INVITE had one.
        offer: Option<Vec<u8>>,
    },
    /// The far end renegotiates a connected call: start a fresh session
    /// and answer `offer` with [`UserAgent::accept_answer`], or when there
    /// is none, offer with [`UserAgent::provide_offer`].
    Renegotiate {
        /// The call.
        call: CallId,
        /// The far end's offer, if any.
        offer: Option<Vec<u8>>,
    },
    /// The answer to our offer: apply it to the session.
    RemoteAnswer {
        /// The call.
        call: CallId,
        /// The SDP.
        sdp: Vec<u8>,
    },
}

#[derive(Debug, Default)]
struct Ringing {
    due: Option<Instant>,
    sdp: Option<Vec<u8>>,
}

/// The expert's answering behaviour, sans-IO, over its user agent.
#[derive(Debug, Default)]
pub struct ExpertPhone {
    ringing: BTreeMap<CallId, Ringing>,
    /// Calls answered and not yet ended.
    answered: Vec<CallId>,
}

impl ExpertPhone {
    /// A phone with no calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the expert is on a call.
    pub fn on_call(&self) -> bool {
        !self.answered.is_empty()
    }

    /// Acts on one of the user agent's events with the expert's current
    /// behaviour; returns what the owner must do or report.
    pub fn on_event(&mut self, now: Instant, ua: &mut UserAgent, answer: Answer, event: &Event) -> Vec<PhoneEvent> {
        let mut out = Vec::new();
        match event {
            Event::IncomingCall { call, info } => {
                let call = *call;
                self.forget_gone(ua);
                let busy = self.on_call() || matches!(answer, Answer::Busy);
                if info.replaces.is_some() {
                    // Teams refuses INVITE with Replaces (the core does too).
                    let _ = ua.reject(now, call, crate::sip::REPLACES_REFUSED);
                } else if matches!(answer, Answer::Decline) {
                    let _ = ua.reject(now, call, 603);
                    out.push(PhoneEvent::State { call, state: ExpertCallState::Declined });
                } else if busy {
                    let _ = ua.reject(now, call, 486);
                    out.push(PhoneEvent::State { call, state: ExpertCallState::Busy });
                } else {
                    let due = match answer {
                        Answer::AfterSecs(s) => {
                            Some(now + Duration::try_from_secs_f64(s.clamp(0.0, 86_400.0)).unwrap_or_default())
                        }
                        _ => None,
                    };
                    self.ringing.insert(call, Ringing { due, sdp: None });
                    out.push(PhoneEvent::State { call, state: ExpertCallState::Ringing });
                }
            }
            // A call it will answer: media first (a "never" call needs none).
            Event::OfferReceived { call, sdp } if self.ringing.get(call).is_some_and(|r| r.due.is_some()) => {
                out.push(PhoneEvent::PrepareMedia { call: *call, offer: Some(sdp.clone()) });
            }
            Event::OfferNeeded { call } if self.ringing.get(call).is_some_and(|r| r.due.is_some()) => {
                out.push(PhoneEvent::PrepareMedia { call: *call, offer: None });
            }
            // Offers for calls it refused are not its business.
            Event::OfferReceived { call, sdp } if self.answered.contains(call) => {
                out.push(PhoneEvent::Renegotiate { call: *call, offer: Some(sdp.clone()) })
            }
            Event::OfferNeeded { call } if self.answered.contains(call) => {
                out.push(PhoneEvent::Renegotiate { call: *call, offer: None })
            }
            Event::AnswerReceived { call, sdp } => out.push(PhoneEvent::RemoteAnswer { call: *call, sdp: sdp.clone() }),
            Event::Connected { call } => {
                self.ringing.remove(call);
                if !self.answered.contains(call) {
                    self.answered.push(*call);
                    out.push(PhoneEvent::State { call: *call, state: ExpertCallState::Answered });
                }
            }
            Event::Ended { call, reason, .. } => {
                let was_ringing = self.ringing.remove(call).is_some();
                let was_on = self.answered.contains(call);
                self.answered.retain(|c| c != call);
                let ours = matches!(reason, EndReason::Rejected);
                if (was_ringing || was_on) && !ours {
                    out.push(PhoneEvent::State { call: *call, state: ExpertCallState::Ended });
                }
            }
            _ => {}
        }
        out
    }

    /// Drops the calls the user agent no longer has up. Their `Ended` is
    /// how they normally go, but the expert's busy state must follow the
    /// calls themselves: one whose end this phone never saw (an event
    /// missed, a call torn down under it) must not keep it busy, 486 to
    /// every caller, for the rest of the run.
    fn forget_gone(&mut self, ua: &UserAgent) {
        self.answered.retain(|c| ua.call(*c).is_some_and(|i| i.state != CallState::Terminating));
        self.ringing.retain(|c, _| ua.call(*c).is_some_and(|i| i.state != CallState::Terminating));
    }

    /// The media description for a call [`PhoneEvent::PrepareMedia`] asked
    /// about; the call is answered now if it is due.
    pub fn media_ready(&mut self, now: Instant, ua: &mut UserAgent, call: CallId, sdp: Vec<u8>) {
        if let Some(r) = self.ringing.get_mut(&call) {
            r.sdp = Some(sdp);
        }
        self.handle_timeout(now, ua);
    }

    /// When the next answer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ringing.values().filter(|r| r.sdp.is_some()).filter_map(|r| r.due).min()
    }

    /// Answers every call that is due and has its media ready.
    pub fn handle_timeout(&mut self, now: Instant, ua: &mut UserAgent) {
        let due: Vec<CallId> = self
            .ringing
            .iter()
            .filter(|(_, r)| r.sdp.is_some() && r.due.is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for call in due {
            let Some(r) = self.ringing.get_mut(&call) else { continue };
            let sdp = r.sdp.take().unwrap_or_default();
            r.due = None;
            if ua.call(call).is_some_and(|c| c.state == CallState::Incoming) {
                let _ = ua.answer(now, call, sdp);
            }
        }
    }
}

/// One simulated expert to run.
#[derive(Debug, Clone)]
pub(crate) struct ExpertLine {
    /// The expert's UPN (for control calls and events).
    pub upn: String,
    /// The Direct Routing number (E.164).
    pub number: String,
    /// The display name.
    pub name: String,
}

/// Starts the expert's phone on the current tokio runtime; it runs until
/// the lab stops.
pub(crate) fn start(
    attacher: &Attacher,
    domain: &str,
    line: ExpertLine,
    control: Control,
) -> tokio::task::JoinHandle<()> {
    let flow = attacher.attach();
    let domain = domain.to_owned();
    tokio::spawn(async move {
        let Ok(aor) = format!("sip:{}@{domain}", line.number).parse() else { return };
        let Ok(registrar) = format!("sip:{domain}").parse() else { return };
        let mut config = Config::new(aor, line.number.clone(), String::new(), registrar);
        config.display_name = Some(line.name.clone());
        config.seed = crate::customer::seed_of(&line.number);
        run(UserAgent::new(config), flow, line, control).await;
    })
}

/// The expert's presence shows a call (Busy, InACall, as Teams does) for
/// as long as this lives. It belongs to the call the expert answered, so
/// the presence comes back however that call goes: its end, a call that
/// never had media, or the phone's task stopping (the lab shutting down,
/// its connection gone) with the call still up.
struct OnCall {
    control: Control,
    upn: String,
}

impl OnCall {
    fn start(control: &Control, upn: &str) -> OnCall {
        let _ = control.set_on_call(upn, true);
        OnCall { control: control.clone(), upn: upn.to_owned() }
    }
}

impl Drop for OnCall {
    fn drop(&mut self) {
        let _ = self.control.set_on_call(&self.upn, false);
    }
}

/// The voice and ears of one call.
struct Media {
    session: MediaSession,
    port: AudioPort,
}

async fn fresh_media() -> Option<Media> {
    let (session, port) = MediaSession::new(MediaConfig::loopback()).await.ok()?;
    Some(Media { session, port })
}

async fn run(mut ua: UserAgent, mut flow: LocalFlow, line: ExpertLine, control: Control) {
    let local = Flow {
        transport: Transport::Ws,
        local_host: format!("{}.invalid", flow.conn.0),
        server: "lab".into(),
        server_index: 0,
    };
    ua.handle_input(Instant::now(), Input::Connected(local));
    let mut phone = ExpertPhone::new();
    // Media prepared for ringing calls, and the one call that talks.
    let mut prepared: BTreeMap<CallId, Media> = BTreeMap::new();
    let mut active: Option<(CallId, Media)> = None;
    let mut on_call: Option<(CallId, OnCall)> = None;
    let mut speak: Option<Box<dyn FnMut() -> Vec<i16> + Send>> = None;
    let mut heard: Vec<i16> = Vec::new();
    let mut record: Option<PathBuf> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let emit = |call: CallId, state: ExpertCallState, detail: Option<String>| {
        control.tenant.emit(LabEvent::Expert {
            expert: line.upn.clone(),
            number: line.number.clone(),
            call: call.get(),
            state,
            detail,
        });
    };
    loop {
        while let Some(out) = ua.poll_output() {
            let event = match out {
                Output::Transmit(b) => {
                    flow.send(b);
                    continue;
                }
                Output::Event(e) => e,
                _ => continue,
            };
            let behaviour = control.behaviour(&line.upn);
            let answer = behaviour.as_ref().map_or(Answer::Never, |b| b.answer);
            for action in phone.on_event(Instant::now(), &mut ua, answer, &event) {
                match action {
                    PhoneEvent::State { call, state } => {
                        let mut detail = None;
                        match state {
                            ExpertCallState::Answered => {
                                // One call at a time: the phone refuses others
                                // while this one is up.
                                drop(on_call.take());
                                on_call = Some((call, OnCall::start(&control, &line.upn)));
                                if let Some(m) = prepared.remove(&call) {
                                    active = Some((call, m));
                                }
                                let audio = behaviour.as_ref().map_or(Audio::Silence, |b| b.audio.clone());
                                speak = crate::customer::voice(&audio, control.sip.base_dir.as_ref()).ok();
                                record = behaviour.as_ref().and_then(|b| b.record.clone());
                                heard.clear();
                            }
                            ExpertCallState::Ended => {
                                prepared.remove(&call);
                                if on_call.as_ref().is_some_and(|(c, _)| *c == call) {
                                    on_call = None;
                                }
                                if active.as_ref().is_some_and(|(c, _)| *c == call) {
                                    if let Some((_, m)) = active.take() {
                                        let _ = m.session.close().await;
                                    }
                                    speak = None;
                                    if let Some(path) = record.take() {
                                        detail = Some(match warmline_media::backend::write_wav(&path, &heard) {
                                            Ok(()) => format!("recorded {} ms to {}", heard.len() / 48, path.display()),
                                            Err(e) => format!("recording failed: {e}"),
                                        });
                                    }
                                }
                            }
                            _ => {}
                        }
                        emit(call, state, detail);
                    }
                    PhoneEvent::PrepareMedia { call, offer } => {
                        let Some(m) = fresh_media().await else { continue };
                        let sdp = match offer {
                            Some(o) => m.session.accept_offer(&String::from_utf8_lossy(&o)).await,
                            None => m.session.create_offer().await,
                        };
                        if let Ok(sdp) = sdp {
                            prepared.insert(call, m);
                            phone.media_ready(Instant::now(), &mut ua, call, sdp.into_bytes());
                        }
                    }
                    PhoneEvent::Renegotiate { call, offer } => {
                        let Some(m) = fresh_media().await else { continue };
                        let result = match offer {
                            Some(o) => match m.session.accept_offer(&String::from_utf8_lossy(&o)).await {
                                Ok(a) => ua.accept_answer(Instant::now(), call, a.into_bytes()).is_ok(),
                                Err(_) => false,
                            },
                            None => match m.session.create_offer().await {
                                Ok(o) => ua.provide_offer(Instant::now(), call, o.into_bytes()).is_ok(),
                                Err(_) => false,
                            },
                        };
                        if result {
                            if let Some((_, old)) = active.replace((call, m)) {
                                let _ = old.session.close().await;
                            }
                        } else {
                            let _ = m.session.close().await;
                        }
                    }
                    PhoneEvent::RemoteAnswer { call, sdp } => {
                        let media = match &active {
                            Some((c, m)) if *c == call => Some(&m.session),
                            _ => prepared.get(&call).map(|m| &m.session),
                        };
                        if let Some(s) = media {
                            let _ = s.accept_answer(&String::from_utf8_lossy(&sdp)).await;
                        }
                    }
                }
            }
        }
        let deadline = [ua.poll_timeout(), phone.poll_timeout()].into_iter().flatten().min();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let talking = active.is_some();
        let input = active.as_ref().map(|(_, m)| m.port.input.clone());
        let (output, events) = match active.as_mut() {
            Some((_, m)) => (Some(&mut m.port.output), Some(&mut m.port.events)),
            None => (None, None),
        };
        tokio::select! {
            frame = flow.frames.recv() => match frame {
                Some(b) => ua.handle_input(Instant::now(), Input::Received(&b)),
                None => return,
            },
            () = sleep => {
                let now = Instant::now();
                ua.handle_timeout(now);
                phone.handle_timeout(now, &mut ua);
            }
            _ = ticker.tick(), if talking => {
                if let (Some(voice), Some(input)) = (speak.as_mut(), input.as_ref()) {
                    let _ = input.try_send(voice());
                }
            }
            Some(frame) = async { match output { Some(o) => o.recv().await, None => std::future::pending().await } } => {
                if record.is_some() {
                    heard.extend_from_slice(&frame);
                }
            }
            Some(_) = async { match events { Some(e) => e.recv().await, None => std::future::pending().await } } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::Presence;

    const EXPERT: &str = "Priya Natarajan";

    /// A lab on a manual clock (no presence churn, no arrivals in between).
    async fn lab() -> crate::Lab {
        let options = crate::LabOptions { clock: crate::Clock::manual(1_700_000_000_000), ..Default::default() };
        crate::Lab::start_with(crate::Scenario::default_scenario(), options).await.expect("the lab starts")
    }

    fn presence(control: &Control) -> Presence {
        control.expert(EXPERT).expect("the expert").presence
    }

    #[tokio::test]
    async fn the_presence_a_call_sets_comes_back_when_the_call_goes() {
        let lab = lab().await;
        let control = lab.control();
        let before = presence(&control);
        assert_ne!(before, Presence::IN_A_CALL);
        let call = OnCall::start(&control, EXPERT);
        assert_eq!(presence(&control), Presence::IN_A_CALL, "an expert on a call is Busy, InACall");
        drop(call);
        assert_eq!(presence(&control), before);
    }

    #[tokio::test]
    async fn the_presence_a_call_sets_comes_back_when_the_phone_task_stops_mid_call() {
        let lab = lab().await;
        let control = lab.control();
        let before = presence(&control);
        let call = OnCall::start(&control, EXPERT);
        // The phone's task owns its call; the lab stopping it (abort) ends both.
        let task = tokio::spawn(async move {
            let _call = call;
            std::future::pending::<()>().await;
        });
        assert_eq!(presence(&control), Presence::IN_A_CALL);
        task.abort();
        assert!(task.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(presence(&control), before, "not Busy for a call nobody is on");
    }

    #[test]
    fn expert_events_print_flat_on_the_lab_event_stream() {
        let event = LabEvent::Expert {
            expert: "priya.natarajan@northwind.example.com".into(),
            number: "+442079460101".into(),
            call: 1,
            state: ExpertCallState::Declined,
            detail: None,
        };
        let line = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            line,
            serde_json::json!({"event": "expert", "expert": "priya.natarajan@northwind.example.com",
                               "number": "+442079460101", "call": 1, "state": "declined"})
        );
    }
}
