//! The session task: it owns the call table and carries out what call
//! control (`crate::control`) decides. Commands, the user agent's events,
//! media events, CRM lookups, network changes and deadlines come in here,
//! in order; the decisions are made by the sans-IO state machines, and
//! this task only does the I/O they ask for (the user agent, media
//! sessions, audio, the store) and feeds the results back. One file per
//! concern beside this one: `calls` (incoming, answer, dial, end),
//! `reoffer` (hold, resume, ICE restart, rollback), `consult` (warm
//! transfer and REFERs), `desk` (agent state, wrap-up, notes) and
//! `devices`.

mod calls;
mod consult;
mod desk;
mod devices;
mod reoffer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use warmline_media::network::NetworkChange;
use warmline_media::session::{MediaEvent, MediaSession};
use warmline_sip::transport::{self, Handle, TransportEvent};
use warmline_sip::ua::{self, Event, UserAgent};

use super::audio::{self, Control};
use super::records::{Lookup, Records};
use super::teams::Teams;
use super::{Request, SessionConfig};
use crate::config::AcdKind;
use crate::control::call::Phase;
use crate::control::consult::Transfer;
use crate::control::desk::Desk;
use crate::control::negotiation::Negotiation;
use crate::events::{CallDirection, Party};
use crate::{AgentCommand, AgentEvent, AgentState, CallState, Error, ErrorPayload, RegistrationState};

/// How long quitting may wait for the un-REGISTER.
const QUIT_WITHIN: Duration = Duration::from_secs(5);

/// How long quitting waits for the audio task to finish.
const AUDIO_STOP: Duration = Duration::from_secs(5);

/// How often the network is looked at where the OS sends no notifications
/// (and how soon a watch notices its session ended).
const NETWORK_POLL: Duration = Duration::from_secs(2);

/// An incoming call's offer, until the call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Offer {
    /// Not known yet (the INVITE's offer event follows).
    Awaited,
    /// The caller's SDP.
    Sdp(Vec<u8>),
    /// The INVITE had none: we offer in the 2xx.
    OursInAnswer,
    /// Used (answered), or an outgoing call.
    Settled,
}

/// Who answers an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answerer {
    /// The agent.
    Agent,
    /// We do, at once: the contact center asked for auto-answer.
    AutoAnswer,
    /// We do, at once: it replaces one of our calls (RFC 3891).
    Replacing,
}

/// What a transfer of this call will write into its history.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TransferNote {
    target: String,
    warm: bool,
}

struct Call {
    phase: Phase,
    direction: CallDirection,
    /// The other party's name, as the network gave it.
    name: Option<String>,
    /// For the call to an expert in a warm transfer: the customer's call
    /// (a fact of the call for its whole life, the hand-over included).
    consult_for: Option<ua::CallId>,
    media: Option<Arc<MediaSession>>,
    offer: Offer,
    answerer: Answerer,
    /// The `incoming` and `context` events, held back until the call rings.
    screen_pop: Option<Box<(AgentEvent, AgentEvent)>>,
    negotiation: Negotiation,
    transfer: Option<TransferNote>,
    /// The call's id in the store (unique across sessions); empty: not kept.
    uid: String,
    /// The other party, E.164 where possible.
    party: String,
    queue: Option<String>,
    case: Option<String>,
    /// It was connected once (its end starts wrap-up).
    talked: bool,
    /// The latest quality report, for the history's summary.
    quality: Option<(f64, f64, f64)>,
}

impl Call {
    fn new(phase: Phase, direction: CallDirection) -> Self {
        Call {
            phase,
            direction,
            name: None,
            consult_for: None,
            media: None,
            offer: Offer::Settled,
            answerer: Answerer::Agent,
            screen_pop: None,
            negotiation: Negotiation::default(),
            transfer: None,
            uid: String::new(),
            party: String::new(),
            queue: None,
            case: None,
            talked: false,
            quality: None,
        }
    }
}

pub(super) struct Runner {
    config: SessionConfig,
    ua: Handle<UserAgent>,
    events: mpsc::UnboundedSender<AgentEvent>,
    audio: mpsc::Sender<Control>,
    media_tx: mpsc::UnboundedSender<(u32, MediaEvent)>,
    calls: BTreeMap<ua::CallId, Call>,
    transfer: Transfer<ua::CallId>,
    desk: Desk,
    shown: Option<AgentState>,
    reconnects: u32,
    registered: bool,
    records: Records,
    /// What the ACD was last told (`None`: available; `Some(note)`: not).
    published: Option<Option<String>>,
    /// Unique per session, for store call ids.
    session_tag: String,
    devices: devices::ChosenDevices,
    /// The Microsoft 365 actor, when `[microsoft365]` is configured.
    teams: Option<Teams>,
}

fn call_name(id: ua::CallId) -> String {
    format!("c{}", id.get())
}

fn media_err(e: warmline_media::Error) -> Error {
    Error::Media(e)
}

/// A command's outcome that comes later (the store's writer answering):
/// the reply waits for it, the session task does not.
type Later = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send>>;

/// The time call control is told: the runtime's clock (paused in tests).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Runner {
    pub(super) fn start(
        mut config: SessionConfig,
        requests: mpsc::Receiver<Request>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<(), Error> {
        let (records, lookups) =
            Records::open(config.store.as_ref(), config.crm.clone(), config.agent.country_code, events.clone())?;
        let audio = audio::spawn(&config.audio_in, &config.audio_out, events.clone()).map_err(media_err)?;
        // Admission decides before anything rings (control::admission).
        config.sip.ring_at_once = false;
        let ua = UserAgent::new(config.sip.clone());
        let (handle, sip_events) = transport::spawn(ua, config.transport.clone()).map_err(Error::Transport)?;
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let session_tag = format!("{:x}", config.sip.seed & 0xffff_ffff);
        let teams = config.microsoft365.clone().map(|m| Teams::spawn(m, config.sip.seed, events.clone()));
        let devices = devices::ChosenDevices::from(&config.audio_devices);
        let desk = Desk::new(config.agent.desk_policy());
        let runner = Runner {
            config,
            ua: handle,
            events,
            audio,
            media_tx,
            calls: BTreeMap::new(),
            transfer: Transfer::default(),
            desk,
            shown: None,
            reconnects: 0,
            registered: false,
            records,
            published: None,
            session_tag,
            devices,
            teams,
        };
        // Without notifications (no netlink in a sandbox, say) calls just
        // do not restart ICE by themselves; `Session::network_changed` still works.
        let network = match warmline_media::network::watch(NETWORK_POLL) {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!("not watching the network: {e}");
                None
            }
        };
        tokio::spawn(runner.run(requests, sip_events, media_rx, lookups, network));
        Ok(())
    }

    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut sip: transport::Events<Event>,
        mut media: mpsc::UnboundedReceiver<(u32, MediaEvent)>,
        mut lookups: mpsc::UnboundedReceiver<Lookup>,
        mut network: Option<mpsc::Receiver<NetworkChange>>,
    ) {
        self.emit(AgentEvent::Ready { session: self.config.info.clone() });
        self.emit(AgentEvent::Registration { registration: RegistrationState::Registering });
        self.show_state();
        loop {
            self.publish_state().await;
            let deadline = [self.transfer.deadline(), self.desk.deadline()].into_iter().flatten().min();
            tokio::select! {
                request = requests.recv() => {
                    let (command, reply) = match request {
                        Some(Request::Command { command, reply }) => (command, reply),
                        Some(Request::NetworkChanged(why)) => {
                            self.network_changed(&why).await;
                            continue;
                        }
                        // Every Session handle is gone: leave as quit would.
                        None => {
                            self.quit().await;
                            return;
                        }
                    };
                    let quit = command == AgentCommand::Quit;
                    let result = if quit { self.quit().await; Ok(()) } else {
                        match self.stored_command(command) {
                            Ok(Ok(later)) => {
                                tokio::spawn(async move { let _ = reply.send(later.await); });
                                continue;
                            }
                            Ok(Err(e)) => Err(e),
                            Err(command) => self.command(*command).await,
                        }
                    };
                    let _ = reply.send(result);
                    if quit {
                        return;
                    }
                }
                event = sip.recv() => match event {
                    Some(event) => {
                        self.transport_event(event).await;
                        self.retry_reoffers().await;
                    }
                    None => {
                        self.emit(AgentEvent::Registration {
                            registration: RegistrationState::Failed { reason: "the SIP transport stopped".into() },
                        });
                        self.quit().await;
                        return;
                    }
                },
                Some((key, event)) = media.recv() => self.media_event(key, event),
                Some(lookup) = lookups.recv() => self.looked_up(lookup),
                change = next_change(&mut network) => match change {
                    Some(change) => self.network_changed(&change.to_string()).await,
                    None => network = None,
                },
                () = sleep_until(deadline) => self.tick().await,
            }
        }
    }

    /// A deadline passed: the expert's ring time, the REFER's NOTIFY, wrap-up.
    async fn tick(&mut self) {
        let now = now();
        let steps = self.transfer.tick(now);
        self.carry_out(steps).await;
        self.desk.tick(now);
        self.show_state();
    }

    /// A `call` event for `id` in `state`, with the call's facts.
    fn call_event(&self, id: ua::CallId, state: CallState) -> Option<AgentEvent> {
        let c = self.calls.get(&id)?;
        Some(AgentEvent::Call {
            call: call_name(id),
            state,
            direction: c.direction,
            remote: Party { number: c.party.clone(), name: c.name.clone() },
            consult_for: c.consult_for.map(call_name),
        })
    }

    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    fn error(&self, error: &Error) {
        self.emit(AgentEvent::Error(ErrorPayload { code: error.code(), message: error.to_string() }));
    }

    /// The state the contact center sees: on a call while any call is up,
    /// else wrap-up or what the agent chose.
    fn show_state(&mut self) {
        let state = self.desk.shown(now(), !self.calls.is_empty());
        if matches!((&self.shown, &state), (Some(AgentState::WrapUp { .. }), AgentState::WrapUp { .. })) {
            return;
        }
        if self.shown.as_ref() != Some(&state) {
            self.shown = Some(state.clone());
            self.emit(AgentEvent::State { agent: state });
        }
    }

    /// Brings the ACD in line with what the agent shows (acd = "pidf"):
    /// open when available, closed with a note otherwise.
    async fn publish_state(&mut self) {
        if self.config.acd != AcdKind::Pidf || !self.registered {
            return;
        }
        let note = match self.shown.as_ref() {
            Some(AgentState::Available) => None,
            Some(AgentState::Away { .. }) => Some("away"),
            Some(AgentState::OnCall) => Some("on-call"),
            Some(AgentState::WrapUp { .. }) => Some("wrap-up"),
            Some(AgentState::Offline) | None => Some("offline"),
        };
        let wanted = note.map(str::to_owned);
        if self.published.as_ref() == Some(&wanted) {
            return;
        }
        self.published = Some(wanted);
        if self.ua(move |ua, now| ua.publish_availability(now, note)).await.is_err() {
            self.published = None;
        }
    }

    async fn ua<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut UserAgent, std::time::Instant) -> R + Send + 'static,
    ) -> Result<R, Error> {
        self.ua.with(f).await.map_err(|_| Error::Closed)
    }

    /// Runs a user-agent operation whose failure the agent is only told about.
    async fn ua_or_report(&self, f: impl FnOnce(&mut UserAgent, Instant) -> Result<(), ua::Error> + Send + 'static) {
        match self.ua(f).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.error(&Error::Sip(e)),
            Err(e) => self.error(&e),
        }
    }

    /// The commands the store answers: their replies come from its writer.
    /// Any other command comes back as it was.
    fn stored_command(&mut self, command: AgentCommand) -> Result<Result<Later, Error>, Box<AgentCommand>> {
        Ok(match command {
            AgentCommand::Note { text, note, call } => self.note(&text, note.as_deref(), call.as_deref()),
            AgentCommand::Wrapup { disposition } => self.disposition(&disposition, true),
            AgentCommand::Disposition { disposition } => self.disposition(&disposition, false),
            AgentCommand::History { query } => Ok(self.history(query)),
            other => return Err(Box::new(other)),
        })
    }

    async fn command(&mut self, command: AgentCommand) -> Result<(), Error> {
        match command {
            AgentCommand::State { state, reason } => self.choose_state(state, reason),
            AgentCommand::Answer { call } => {
                let id = self.pick(call.as_deref(), |c| c.phase.ringing_here(), "ringing")?;
                self.answer(id).await
            }
            AgentCommand::Reject { call } => {
                let id = self.pick(call.as_deref(), |c| c.phase.ringing_here(), "ringing")?;
                self.ua(move |ua, now| ua.reject(now, id, 603)).await?.map_err(Error::Sip)
            }
            AgentCommand::Dial { to } => {
                let uri = self.target(&to)?;
                self.dial(uri, None).await.map(|_| ())
            }
            AgentCommand::Hold { call } => self.hold_command(call.as_deref()).await,
            AgentCommand::Resume { call } => self.resume_command(call.as_deref()).await,
            AgentCommand::Mute { on } => {
                let _ = self.audio.send(Control::Mute(on)).await;
                self.emit(AgentEvent::Mute { on });
                Ok(())
            }
            AgentCommand::Dtmf { digits, call } => self.dtmf(&digits, call.as_deref()).await,
            AgentCommand::Hangup { call } => {
                let id = self.pick(call.as_deref(), |_| true, "")?;
                if self.transfer.consults_for(id).is_some() && self.transfer.cancel().is_ok() {
                    return self.hangup(id).await;
                }
                self.hangup(id).await
            }
            AgentCommand::Transfer { to, mode, call } => self.transfer_command(&to, mode, call.as_deref()).await,
            AgentCommand::CompleteTransfer => self.complete_transfer().await,
            AgentCommand::CancelTransfer => self.cancel_transfer().await,
            AgentCommand::Conference => self.conference().await,
            AgentCommand::Note { .. }
            | AgentCommand::Wrapup { .. }
            | AgentCommand::Disposition { .. }
            | AgentCommand::History { .. } => Err(Error::Invalid("answered by the store".into())),
            AgentCommand::Experts { .. }
            | AgentCommand::Favourite { .. }
            | AgentCommand::SignIn
            | AgentCommand::SignOut => match &self.teams {
                Some(teams) => teams.command(command),
                None => Err(Error::NotAvailable("Microsoft 365 (no [microsoft365] in the configuration)")),
            },
            AgentCommand::Devices => {
                self.emit_devices();
                Ok(())
            }
            AgentCommand::Connection => self.show_connection().await,
            AgentCommand::Configure { settings, password } => self.configure(settings, password).await,
            AgentCommand::Device { role, id } => self.choose_device(role, id).await,
            AgentCommand::TestTone { role } => self.test_tone(role).await,
            AgentCommand::Meter { on } => self.meter(on).await,
            AgentCommand::Quit => Ok(()),
        }
    }

    /// The call `name` names, or else the one call `fits`.
    fn pick(&self, name: Option<&str>, fits: impl Fn(&Call) -> bool, what: &str) -> Result<ua::CallId, Error> {
        if let Some(name) = name {
            return self
                .calls
                .keys()
                .find(|id| call_name(**id) == name)
                .copied()
                .ok_or_else(|| Error::NoCall(format!("no call {name}")));
        }
        let mut fitting = self.calls.iter().filter(|(_, c)| fits(c)).map(|(id, _)| *id);
        match (fitting.next(), fitting.next()) {
            (Some(id), None) => Ok(id),
            (None, _) => Err(Error::NoCall(format!("no {what} call").replace("  ", " "))),
            (Some(_), Some(_)) => Err(Error::NoCall(format!("several {what} calls: say which with \"call\""))),
        }
    }

    async fn quit(&mut self) {
        let _ = self.ua.shutdown(|ua, now| ua.shutdown(now), |ua: &UserAgent| !ua.is_registered(), QUIT_WITHIN).await;
        let ids: Vec<ua::CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let ended = self.call_event(id, CallState::Ended { reason: "local hangup".into() });
            self.forget(id).await;
            if let Some(event) = ended {
                self.emit(event);
            }
        }
        let (done, stopped) = tokio::sync::oneshot::channel();
        // The audio task finishes its output file first. A device still
        // opening (or a sound server that stopped answering) does not keep
        // the agent from quitting.
        if self.audio.send(Control::Stop(done)).await.is_ok() {
            let _ = tokio::time::timeout(AUDIO_STOP, stopped).await;
        }
        self.registered = false;
    }

    async fn transport_event(&mut self, event: TransportEvent<Event>) {
        match event {
            TransportEvent::Engine(e) => self.ua_event(e).await,
            TransportEvent::Reconnecting { .. } => {
                self.reconnects += 1;
                self.registered = false;
                self.emit(AgentEvent::Registration {
                    registration: RegistrationState::Reconnecting { attempt: self.reconnects },
                });
            }
            TransportEvent::ConnectFailed(e) => tracing::info!("SIP connection failed: {e}"),
            other => tracing::debug!("SIP transport: {other}"),
        }
    }

    async fn ua_event(&mut self, event: Event) {
        match event {
            Event::Registered { .. } => {
                if !self.registered {
                    self.registered = true;
                    self.reconnects = 0;
                    self.emit(AgentEvent::Registration { registration: RegistrationState::Registered });
                }
            }
            Event::RegistrationFailed { status, reason } => {
                self.registered = false;
                self.emit(AgentEvent::Registration {
                    registration: RegistrationState::Failed { reason: format!("{status} {reason}") },
                });
            }
            Event::IncomingCall { call, info } => self.incoming(call, &info).await,
            Event::Dialing { call } => self.set_phase(call, Phase::Dialling),
            Event::Ringing { call } => self.set_phase(call, Phase::Early { media: false }),
            Event::EarlyMedia { call } => self.set_phase(call, Phase::Early { media: true }),
            Event::Connected { call } => self.connected(call).await,
            Event::Held { call } | Event::Resumed { call } => self.reoffer_answered(call),
            Event::RemoteHeld { call } => self.remote_hold(call, true),
            Event::RemoteResumed { call } => self.remote_hold(call, false),
            Event::OfferRejected { call, status } => self.reoffer_refused(call, status).await,
            Event::Ended { call, reason, status } => self.ended(call, reason, status).await,
            Event::CallReconnecting { call } => self.link(call, true),
            Event::CallReconnected { call } => self.link(call, false),
            Event::OfferReceived { call, sdp } => self.offer_received(call, sdp).await,
            Event::OfferNeeded { call } => self.offer_needed(call).await,
            Event::AnswerReceived { call, sdp } => self.answer_received(call, sdp).await,
            Event::Transfer { call, progress } => self.transfer_progress(call, progress).await,
            Event::TransferAsked { call, target, .. } => self.transfer_asked(call, target).await,
            Event::TransferRequested { call, new_call, target, .. } => {
                tracing::info!("{} asks us to call someone else; calling as {}", call_name(call), call_name(new_call));
                let mut c = Call::new(Phase::Dialling, CallDirection::Outbound);
                c.party = match &target {
                    warmline_sip::Uri::Sip(u) => match &u.user {
                        Some(user) => self.records.normalise(&format!("{user}@{}", u.host)),
                        None => u.host.to_string(),
                    },
                    other => other.to_string(),
                };
                self.calls.insert(new_call, c);
                self.show_state();
            }
            other => tracing::debug!("user agent: {other:?}"),
        }
    }

    fn media_event(&mut self, key: u32, event: MediaEvent) {
        let Some(call) = self.calls.keys().find(|id| id.get() == key).copied() else { return };
        match event {
            MediaEvent::Quality(q) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.quality = Some((q.mos, q.loss * 100.0, q.jitter.as_secs_f64() * 1000.0));
                }
                self.emit(AgentEvent::Quality {
                    call: call_name(call),
                    mos: q.mos as f32,
                    jitter_ms: q.jitter.as_secs_f32() * 1000.0,
                    loss_pct: (q.loss * 100.0) as f32,
                })
            }
            MediaEvent::Connected => self.media_back(call),
            MediaEvent::Failed => self.error(&Error::MediaFailed(call_name(call))),
            other => tracing::debug!("{}: media {other:?}", call_name(call)),
        }
    }
}

/// The next network change, or never when nothing is watched.
async fn next_change(network: &mut Option<mpsc::Receiver<NetworkChange>>) -> Option<NetworkChange> {
    match network {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
