//! Simulated customers: each is a [`UserAgent`] attached inside the lab to
//! its own SIP core (a trunk connection, no socket) with a real WebRTC
//! [`MediaSession`], so an agent hears it over ICE, DTLS-SRTP and Opus like
//! any caller. Its voice is a tone, a WAV file or silence; what it hears
//! can be recorded to a WAV file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use warmline_media::session::{MediaConfig, MediaSession};
use warmline_media::tone::ToneGenerator;
use warmline_sip::ua::{CallId, Config, Event};
use warmline_sip::{Engine, Flow, Input, Output, Transport, UserAgent};

use crate::scenario::Audio;
use crate::sip::server::{Attacher, LocalFlow};
use crate::{Error, LabEvent};

/// Samples in one 20 ms frame at 48 kHz.
const FRAME: usize = 960;

/// A customer call to place.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerCall {
    /// The caller's number (E.164): the SIP user of From and of the
    /// P-Asserted-Identity the agent sees.
    pub from: String,
    /// The caller's display name, if the CRM knows the number.
    pub name: Option<String>,
    /// The queue to call.
    pub queue: String,
    /// What the customer says.
    pub audio: Audio,
    /// A WAV file for what the customer hears, written when the call ends.
    pub record: Option<PathBuf>,
    /// How the customer's phone answers a re-offer (hold, resume).
    pub reoffers: Reoffers,
}

/// How a customer's phone answers the agent's re-offers (re-INVITEs for
/// hold and resume), as far ends do: most take them, some refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reoffers {
    /// Answered from the same media session (a new far end re-anchors it).
    #[default]
    Accept,
    /// The next `times` re-offers are refused with `status` (488 Not
    /// Acceptable Here, 500, 603 ...), then they are taken again.
    Refuse {
        /// The final status of the refusal.
        status: u16,
        /// How many re-offers are refused.
        times: u32,
    },
}

/// Where a simulated customer's call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerState {
    /// The INVITE went to the queue.
    Dialing,
    /// An agent answered and media is being set up.
    Connected,
    /// The call is over (`detail` says why, or where the recording is).
    Ended,
}

/// A customer call in progress. Dropping it does not end the call.
#[derive(Debug, Clone)]
pub struct CustomerHandle {
    /// The lab's name for this customer (`K1`, `K2`, ...).
    pub id: String,
    hangup: mpsc::UnboundedSender<()>,
}

impl CustomerHandle {
    /// Hangs up (CANCEL while queued, BYE once answered).
    pub fn hang_up(&self) {
        let _ = self.hangup.send(());
    }
}

/// Starts a customer call on the current tokio runtime.
pub(crate) fn place(
    attacher: &Attacher,
    domain: &str,
    id: String,
    call: CustomerCall,
    base_dir: Option<PathBuf>,
    emit: impl Fn(LabEvent) + Send + Sync + 'static,
) -> Result<CustomerHandle, Error> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::BadCommand("a customer call needs the lab's tokio runtime".into()))?;
    let aor = format!("sip:{}@{domain}", call.from)
        .parse()
        .map_err(|_| Error::BadCommand(format!("call: {:?} is not a usable caller number", call.from)))?;
    let queue_uri = format!("sip:{}@{domain}", call.queue)
        .parse()
        .map_err(|_| Error::BadCommand(format!("call: {:?} is not a usable queue name", call.queue)))?;
    let registrar = format!("sip:{domain}").parse().map_err(|_| Error::BadCommand("the lab's SIP domain".into()))?;
    let mut config = Config::new(aor, call.from.clone(), String::new(), registrar);
    config.display_name = call.name.clone();
    config.seed = seed_of(&id);
    let flow = attacher.attach();
    let (hangup, hangup_rx) = mpsc::unbounded_channel();
    let handle = CustomerHandle { id: id.clone(), hangup };
    runtime.spawn(async move {
        let from = call.from.clone();
        let report = |state, detail: Option<String>| LabEvent::Customer {
            customer: id.clone(),
            from: from.clone(),
            state,
            detail,
        };
        let detail =
            run(UserAgent::new(config), flow, queue_uri, call, base_dir, hangup_rx, &|e| emit(report(e, None))).await;
        emit(report(CustomerState::Ended, Some(detail)));
    });
    Ok(handle)
}

pub(crate) fn seed_of(id: &str) -> u64 {
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    u64::from_le_bytes(seed) ^ id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// Frames of the customer's voice, paced by the caller.
pub(crate) fn voice(audio: &Audio, base_dir: Option<&PathBuf>) -> Result<Box<dyn FnMut() -> Vec<i16> + Send>, String> {
    Ok(match audio {
        Audio::Silence => Box::new(|| vec![0; FRAME]),
        Audio::ToneHz(hz) => {
            let mut tone = ToneGenerator::new(48_000, *hz as f32, 0.3);
            Box::new(move || tone.next_frame(FRAME))
        }
        Audio::Wav(path) => {
            let path = match base_dir {
                Some(base) if path.is_relative() => base.join(path),
                _ => path.clone(),
            };
            let samples = warmline_media::backend::read_wav(&path).map_err(|e| e.to_string())?;
            if samples.is_empty() {
                return Err(format!("{} has no audio", path.display()));
            }
            let mut at = 0;
            Box::new(move || {
                let mut frame = Vec::with_capacity(FRAME);
                while frame.len() < FRAME {
                    frame.push(samples[at]);
                    at = (at + 1) % samples.len();
                }
                frame
            })
        }
    })
}

/// A fresh media session answering `offer`, or offering when there is none.
async fn renegotiate(offer: Option<&[u8]>) -> Option<(MediaSession, warmline_media::session::AudioPort, String)> {
    let (session, port) = MediaSession::new(MediaConfig::loopback()).await.ok()?;
    let sdp = match offer {
        Some(o) => session.accept_offer(&String::from_utf8_lossy(o)).await,
        None => session.create_offer().await,
    };
    match sdp {
        Ok(sdp) => Some((session, port, sdp)),
        Err(_) => {
            let _ = session.close().await;
            None
        }
    }
}

/// The customer's life: register on the trunk, dial, bridge media, end.
/// Returns how it ended, for the `ended` event.
async fn run(
    mut ua: UserAgent,
    mut flow: LocalFlow,
    queue: warmline_sip::Uri,
    call: CustomerCall,
    base_dir: Option<PathBuf>,
    mut hangup: mpsc::UnboundedReceiver<()>,
    emit: &(dyn Fn(CustomerState) + Send + Sync),
) -> String {
    let mut speak = match voice(&call.audio, base_dir.as_ref()) {
        Ok(v) => v,
        Err(e) => return format!("no voice: {e}"),
    };
    let (mut session, mut port) = match MediaSession::new(MediaConfig::loopback()).await {
        Ok(s) => s,
        Err(e) => return format!("media: {e}"),
    };
    let offer = match session.create_offer().await {
        Ok(o) => o,
        Err(e) => return format!("media offer: {e}"),
    };
    let local = Flow {
        transport: Transport::Ws,
        local_host: format!("{}.invalid", flow.conn.0),
        server: "lab".into(),
        server_index: 0,
    };
    ua.handle_input(Instant::now(), Input::Connected(local));
    let mut ours: Option<CallId> = None;
    let mut heard: Vec<i16> = Vec::new();
    let mut talking = false;
    let mut hangup_open = true;
    let mut refusals = call.reoffers;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        let mut ended = None;
        while let Some(out) = ua.poll_output() {
            match out {
                Output::Transmit(b) => flow.send(b),
                Output::Event(Event::Registered { .. }) if ours.is_none() => {
                    match ua.dial(Instant::now(), queue.clone(), offer.clone().into_bytes()) {
                        Ok(c) => {
                            ours = Some(c);
                            emit(CustomerState::Dialing);
                        }
                        Err(e) => ended = Some(format!("dial: {e}")),
                    }
                }
                Output::Event(Event::AnswerReceived { sdp, .. }) => {
                    if let Err(e) = session.accept_answer(&String::from_utf8_lossy(&sdp)).await {
                        ended = Some(format!("media answer: {e}"));
                    }
                }
                // A transfer through the B2BUA: the far end is someone new,
                // so the media starts over in a fresh session.
                Output::Event(Event::OfferReceived { call: c, .. })
                    if talking && matches!(refusals, Reoffers::Refuse { times: 1.., .. }) =>
                {
                    if let Reoffers::Refuse { status, times } = &mut refusals {
                        *times -= 1;
                        let _ = ua.reject_offer(Instant::now(), c, *status);
                    }
                }
                Output::Event(Event::OfferReceived { call: c, sdp }) if talking => {
                    // A re-offer (hold, resume, a new far end after a
                    // transfer) is answered from the same session, as a
                    // phone does: it keeps its ICE and DTLS, and re-anchors
                    // itself when the offer comes from a new peer.
                    match session.accept_offer(&String::from_utf8_lossy(&sdp)).await {
                        Ok(answer) => {
                            let _ = ua.accept_answer(Instant::now(), c, answer.into_bytes());
                        }
                        Err(_) => {
                            let _ = ua.reject_offer(Instant::now(), c, 488);
                        }
                    }
                }
                Output::Event(Event::OfferNeeded { call: c }) if talking => {
                    if let Some((s, p, offer)) = renegotiate(None).await
                        && ua.provide_offer(Instant::now(), c, offer.into_bytes()).is_ok()
                    {
                        let old = std::mem::replace(&mut session, s);
                        port = p;
                        let _ = old.close().await;
                    }
                }
                Output::Event(Event::Connected { .. }) if !talking => {
                    talking = true;
                    emit(CustomerState::Connected);
                }
                Output::Event(Event::Ended { reason, status, .. }) => {
                    ended = Some(format!("{reason:?}{}", status.map(|s| format!(" ({s})")).unwrap_or_default()));
                }
                Output::Event(Event::RegistrationFailed { status, .. }) => {
                    ended = Some(format!("registration {status}"))
                }
                _ => {}
            }
        }
        if let Some(reason) = ended {
            break reason;
        }
        let deadline = ua.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = flow.frames.recv() => match frame {
                Some(b) => ua.handle_input(Instant::now(), Input::Received(&b)),
                None => break "the lab stopped".to_owned(),
            },
            () = sleep => ua.handle_timeout(Instant::now()),
            asked = hangup.recv(), if ours.is_some() && hangup_open => match (asked, ours) {
                (Some(()), Some(c)) => {
                    if ua.hangup(Instant::now(), c).is_err() {
                        break "hung up".to_owned();
                    }
                }
                _ => hangup_open = false,
            },
            _ = ticker.tick(), if talking => {
                // The voice stands in for a microphone: paced like one.
                let _ = port.input.try_send(speak());
            }
            Some(frame) = port.output.recv() => {
                if call.record.is_some() {
                    heard.extend_from_slice(&frame);
                }
            }
            Some(_) = port.events.recv() => {}
        }
    };
    let _ = session.close().await;
    match &call.record {
        Some(path) => match warmline_media::backend::write_wav(path, &heard) {
            Ok(()) => format!("{outcome}; recorded {} ms to {}", heard.len() / 48, path.display()),
            Err(e) => format!("{outcome}; recording failed: {e}"),
        },
        None => outcome,
    }
}
