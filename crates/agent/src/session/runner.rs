//! The session task: the call table, the commands, and the user agent's
//! and the media's events, in one place and in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use warmline_media::network::NetworkChange;
use warmline_media::sdp::Direction;
use warmline_media::session::{MediaEvent, MediaSession};
use warmline_sip::Uri;
use warmline_sip::transport::{self, Handle, TransportEvent};
use warmline_sip::ua::{self, EndReason, Event, ReofferMethod, TransferProgress, UserAgent};

use super::audio::{self, Control};
use super::records::{Lookup, Records};
use super::teams::Teams;
use super::{Request, SessionConfig};
use crate::config::AcdKind;
use crate::dial_policy::Target;
use crate::{AgentCommand, AgentEvent, AgentState, CallState, ChosenState, Error, RegistrationState, TransferMode};
use crate::{ErrorPayload, TransferPhase};

/// How long quitting may wait for the un-REGISTER.
const QUIT_WITHIN: Duration = Duration::from_secs(5);

/// A hold or resume the user agent could not start yet (an INVITE
/// transaction still running, RFC 3261 14.1): retried after each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reoffer {
    Hold,
    Resume,
    /// New ICE credentials after a network change, direction unchanged.
    IceRestart,
}

struct Call {
    media: Option<Arc<MediaSession>>,
    /// An incoming call's offer, kept until the agent answers.
    offer: Option<Vec<u8>>,
    /// An incoming call that came without an offer: we offer in the 2xx.
    needs_offer: bool,
    /// Answer by ourselves (it replaces one of our calls, or auto-answer).
    auto_answer: bool,
    /// An incoming call not answered yet.
    incoming: bool,
    ringing_here: bool,
    /// The `incoming` event, held back until the call's offer is here so
    /// that an answer to it can be carried out at once.
    announce: Option<AgentEvent>,
    /// The first screen pop, sent right after `announce`.
    context: Option<AgentEvent>,
    connected: bool,
    held: bool,
    remote_held: bool,
    deferred: Option<(Reoffer, Vec<u8>)>,
    /// Restarting ICE after a network change: `reconnecting` is shown
    /// until the media is back.
    restarting: bool,
    /// A transfer under way: its target and whether it is warm.
    transfer: Option<(String, bool)>,
    /// The call's id in the store (unique across sessions).
    uid: String,
    /// The other party, E.164 where possible.
    party: String,
    queue: Option<String>,
    case: Option<String>,
    /// Was it ever connected (ending it starts wrap-up).
    talked: bool,
    /// The latest quality report, kept for the history's summary.
    quality: Option<(f64, f64, f64)>,
}

impl Call {
    fn new() -> Self {
        Call {
            media: None,
            offer: None,
            needs_offer: false,
            auto_answer: false,
            incoming: false,
            ringing_here: false,
            announce: None,
            context: None,
            connected: false,
            held: false,
            remote_held: false,
            deferred: None,
            restarting: false,
            transfer: None,
            uid: String::new(),
            party: String::new(),
            queue: None,
            case: None,
            talked: false,
            quality: None,
        }
    }

    fn live(&self) -> bool {
        self.connected && !self.held
    }
}

/// A warm transfer in progress: the customer on hold, the expert dialled
/// or consulted.
struct Warm {
    customer: ua::CallId,
    consult: ua::CallId,
    /// When the expert must have answered by.
    deadline: Option<tokio::time::Instant>,
    /// Why we hung up the consult ourselves, if we did.
    dropped: Option<&'static str>,
    /// REFER sent: the calls ending now is the transfer working.
    completing: bool,
    /// The three of us are talking.
    conference: bool,
}

/// After a call: the agent finishes notes and picks a disposition.
struct WrapUp {
    /// The call being wrapped up (its store id).
    uid: String,
    until: tokio::time::Instant,
}

pub(super) struct Runner {
    config: SessionConfig,
    ua: Handle<UserAgent>,
    events: mpsc::UnboundedSender<AgentEvent>,
    audio: mpsc::Sender<Control>,
    media_tx: mpsc::UnboundedSender<(u32, MediaEvent)>,
    calls: BTreeMap<ua::CallId, Call>,
    warm: Option<Warm>,
    chosen: AgentState,
    shown: Option<AgentState>,
    reconnects: u32,
    registered: bool,
    records: Records,
    wrap_up: Option<WrapUp>,
    /// The last call that was wrapped up (notes after wrap-up attach to it).
    last_call: Option<String>,
    /// What the ACD was last told (`None`: available; `Some(note)`: not).
    published: Option<Option<String>>,
    /// Unique per session, for store call ids.
    session_tag: String,
    /// The chosen audio devices.
    devices: ChosenDevices,
    /// The Microsoft 365 actor, when `[microsoft365]` is configured.
    teams: Option<Teams>,
}

#[derive(Debug, Clone)]
struct ChosenDevices {
    input: String,
    output: String,
    ringer: String,
}

/// A configured device id: `default` follows the system.
fn device_id(id: &str) -> Option<String> {
    (id != "default").then(|| id.to_owned())
}

fn call_name(id: ua::CallId) -> String {
    format!("c{}", id.get())
}

/// How long quitting waits for the audio task to finish.
const AUDIO_STOP: Duration = Duration::from_secs(5);

fn media_err(e: warmline_media::Error) -> Error {
    Error::Media(e)
}

impl Runner {
    pub(super) fn start(
        config: SessionConfig,
        requests: mpsc::Receiver<Request>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<(), Error> {
        let (records, lookups) =
            Records::open(config.store.as_ref(), config.crm.clone(), config.agent.country_code, events.clone())?;
        let audio = audio::spawn(&config.audio_in, &config.audio_out, events.clone()).map_err(media_err)?;
        let ua = UserAgent::new(config.sip.clone());
        let (handle, sip_events) = transport::spawn(ua, config.transport.clone()).map_err(Error::Transport)?;
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let session_tag = format!("{:x}", config.sip.seed & 0xffff_ffff);
        let teams = config.microsoft365.clone().map(|m| Teams::spawn(m, config.sip.seed, events.clone()));
        let devices = ChosenDevices {
            input: config.audio_devices.input.clone(),
            output: config.audio_devices.output.clone(),
            ringer: config.audio_devices.ringer.clone(),
        };
        let runner = Runner {
            config,
            ua: handle,
            events,
            audio,
            media_tx,
            calls: BTreeMap::new(),
            warm: None,
            chosen: AgentState::Offline,
            shown: None,
            reconnects: 0,
            registered: false,
            records,
            wrap_up: None,
            last_call: None,
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
            let deadline = self.warm.as_ref().and_then(|w| w.deadline);
            let wrap_up_ends = self.wrap_up.as_ref().map(|w| w.until);
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
                    let result = if quit { self.quit().await; Ok(()) } else { self.command(command).await };
                    let _ = reply.send(result);
                    if quit {
                        return;
                    }
                }
                event = sip.recv() => match event {
                    Some(event) => {
                        self.transport_event(event).await;
                        self.retry_deferred().await;
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
                () = sleep_until(deadline) => self.expert_did_not_answer().await,
                () = sleep_until(wrap_up_ends) => self.end_wrap_up(),
            }
        }
    }

    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    fn error(&self, error: &Error) {
        self.emit(AgentEvent::Error(ErrorPayload { code: error.code(), message: error.to_string() }));
    }

    /// The state the contact center sees: on a call while any call is up,
    /// else what the agent chose.
    fn show_state(&mut self) {
        let now = if !self.calls.is_empty() {
            AgentState::OnCall
        } else if let Some(w) = &self.wrap_up {
            let left = w.until.saturating_duration_since(tokio::time::Instant::now());
            AgentState::WrapUp { seconds_left: left.as_secs_f32().ceil() as u32 }
        } else {
            self.chosen.clone()
        };
        if matches!((&self.shown, &now), (Some(AgentState::WrapUp { .. }), AgentState::WrapUp { .. })) {
            return;
        }
        if self.shown.as_ref() != Some(&now) {
            self.shown = Some(now.clone());
            self.emit(AgentEvent::State { agent: now });
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

    fn end_wrap_up(&mut self) {
        if let Some(w) = self.wrap_up.take() {
            self.last_call = Some(w.uid);
        }
        self.show_state();
    }

    async fn ua<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut UserAgent, std::time::Instant) -> R + Send + 'static,
    ) -> Result<R, Error> {
        self.ua.with(f).await.map_err(|_| Error::Closed)
    }

    // ----- commands -----

    async fn command(&mut self, command: AgentCommand) -> Result<(), Error> {
        match command {
            AgentCommand::State { state, reason } => {
                // Choosing a state ends wrap-up.
                if let Some(w) = self.wrap_up.take() {
                    self.last_call = Some(w.uid);
                }
                self.chosen = match state {
                    ChosenState::Available => AgentState::Available,
                    ChosenState::Away => AgentState::Away { reason: reason.unwrap_or_default() },
                    ChosenState::Offline => AgentState::Offline,
                };
                self.show_state();
                Ok(())
            }
            AgentCommand::Answer { call } => {
                let id = self.pick(call.as_deref(), |c| c.ringing_here, "ringing")?;
                self.answer(id).await
            }
            AgentCommand::Reject { call } => {
                let id = self.pick(call.as_deref(), |c| c.ringing_here, "ringing")?;
                self.ua(move |ua, now| ua.reject(now, id, 603)).await?.map_err(Error::Sip)
            }
            AgentCommand::Dial { to } => {
                let uri = self.target(&to)?;
                self.dial(uri, None).await.map(|_| ())
            }
            AgentCommand::Hold { call } => {
                let id = self.pick(call.as_deref(), Call::live, "active")?;
                self.reoffer(id, Reoffer::Hold).await
            }
            AgentCommand::Resume { call } => {
                let id = self.pick(call.as_deref(), |c| c.connected && c.held, "held")?;
                self.reoffer(id, Reoffer::Resume).await
            }
            AgentCommand::Mute { on } => {
                let _ = self.audio.send(Control::Mute(on)).await;
                self.emit(AgentEvent::Mute { on });
                Ok(())
            }
            AgentCommand::Dtmf { digits, call } => {
                if digits.is_empty() || !digits.chars().all(|d| d.is_ascii_digit() || "*#ABCD".contains(d)) {
                    return Err(Error::Invalid("DTMF digits are 0-9, *, #, A-D".into()));
                }
                let id = self.pick(call.as_deref(), Call::live, "active")?;
                let media = self.calls.get(&id).and_then(|c| c.media.clone()).ok_or(Error::NoCall("active".into()))?;
                for d in digits.chars() {
                    media.send_dtmf(d).map_err(media_err)?;
                }
                // The agent hears the keys as a desk phone plays them.
                let _ = self.audio.send(Control::DtmfFeedback(digits)).await;
                Ok(())
            }
            AgentCommand::Hangup { call } => {
                let id = self.pick(call.as_deref(), |_| true, "")?;
                if self.warm.as_ref().is_some_and(|w| w.consult == id) {
                    return self.cancel_transfer().await;
                }
                self.ua(move |ua, now| ua.hangup(now, id)).await?.map_err(Error::Sip)
            }
            AgentCommand::Transfer { to, mode, call } => {
                if self.warm.is_some() {
                    return Err(Error::Invalid("a warm transfer is already in progress".into()));
                }
                let uri = self.target(&to)?;
                let customer = self.pick(call.as_deref(), |c| c.connected, "connected")?;
                match mode {
                    TransferMode::Blind => {
                        let target = uri.to_string();
                        self.ua(move |ua, now| ua.transfer_blind(now, customer, uri)).await?.map_err(Error::Sip)?;
                        self.note_transfer(customer, target, false);
                        Ok(())
                    }
                    TransferMode::Warm => self.warm_transfer(customer, uri).await,
                }
            }
            AgentCommand::CompleteTransfer => {
                let Some(w) = self.warm.as_mut().filter(|w| w.deadline.is_none() && !w.completing) else {
                    return Err(Error::Invalid("no consult to complete: start a warm transfer first".into()));
                };
                let (customer, consult) = (w.customer, w.consult);
                w.completing = true;
                let sent = self.ua(move |ua, now| ua.transfer_attended(now, customer, consult)).await?;
                if let Err(e) = sent {
                    if let Some(w) = self.warm.as_mut() {
                        w.completing = false;
                    }
                    return Err(Error::Sip(e));
                }
                Ok(())
            }
            AgentCommand::CancelTransfer => self.cancel_transfer().await,
            AgentCommand::Conference => self.conference().await,
            AgentCommand::Note { text, note, call } => self.note(&text, note.as_deref(), call.as_deref()),
            AgentCommand::Wrapup { disposition } => self.wrapup(&disposition),
            AgentCommand::History { query } => {
                let calls = self.records.history(&query)?;
                self.emit(AgentEvent::History { query, calls });
                Ok(())
            }
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
            AgentCommand::Connection => {
                let file = self.connection_file()?;
                let view = tokio::task::spawn_blocking(move || crate::connection::view(&file))
                    .await
                    .map_err(|e| Error::Config(e.to_string()))??;
                self.emit(AgentEvent::Connection { connection: view });
                Ok(())
            }
            AgentCommand::Configure { settings, password } => {
                let file = self.connection_file()?;
                let view = tokio::task::spawn_blocking(move || {
                    crate::connection::save(&file, &settings, password.as_ref().map(|p| p.0.as_str()))
                })
                .await
                .map_err(|e| Error::Config(e.to_string()))??;
                tracing::info!("connection settings saved to {}; they apply at the next start", view.file);
                self.emit(AgentEvent::Connection { connection: view });
                Ok(())
            }
            AgentCommand::Device { role, id } => self.choose_device(role, id).await,
            AgentCommand::TestTone { role } => {
                match role {
                    crate::DeviceRole::Ringer => {
                        let device = device_id(&self.devices.ringer);
                        std::thread::spawn(move || {
                            match warmline_media::sounds::Ringer::start(
                                device.as_deref(),
                                warmline_media::sounds::Sound::Ringtone,
                            ) {
                                // It rings for two seconds, then stops.
                                Ok(_ringer) => std::thread::sleep(std::time::Duration::from_secs(2)),
                                Err(e) => tracing::warn!("test ringtone: {e}"),
                            }
                        });
                    }
                    _ => {
                        let _ = self.audio.send(Control::TestTone).await;
                    }
                }
                Ok(())
            }
            AgentCommand::Meter { on } => {
                let meter = if on {
                    let (tx, mut rx) = mpsc::unbounded_channel::<f32>();
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        while let Some(input) = rx.recv().await {
                            if events.send(AgentEvent::Level { input }).is_err() {
                                break;
                            }
                        }
                    });
                    Some(tx)
                } else {
                    None
                };
                let _ = self.audio.send(Control::Meter(meter)).await;
                Ok(())
            }
            AgentCommand::Quit => Ok(()),
        }
    }

    /// Saves a note on the named call, the one live call, the call in
    /// wrap-up or the last call, in that order.
    fn note(&mut self, text: &str, note: Option<&str>, call: Option<&str>) -> Result<(), Error> {
        let (uid, customer, name) = match call {
            Some(name) => {
                let id = self.pick(Some(name), |_| true, "")?;
                let c = &self.calls[&id];
                (Some(c.uid.clone()), Some(c.party.clone()), Some(call_name(id)))
            }
            None => match self.calls.iter().find(|(_, c)| c.connected && !c.party.is_empty()) {
                Some((id, c)) => (Some(c.uid.clone()), Some(c.party.clone()), Some(call_name(*id))),
                None => {
                    let uid = self.wrap_up.as_ref().map(|w| w.uid.clone()).or_else(|| self.last_call.clone());
                    (uid.clone(), None, uid)
                }
            },
        };
        let id = self.records.save_note(note, text, uid.as_deref(), customer.as_deref())?;
        self.emit(AgentEvent::NoteSaved { note: id, call: name, sync: crate::NoteSync::SavedLocally, reason: None });
        Ok(())
    }

    /// Records the disposition of the call in wrap-up (or the last call)
    /// and ends wrap-up.
    fn wrapup(&mut self, disposition: &str) -> Result<(), Error> {
        let code = disposition.trim();
        if !self.config.agent.dispositions.iter().any(|(c, _)| c == code) {
            let known: Vec<&str> = self.config.agent.dispositions.iter().map(|(c, _)| c.as_str()).collect();
            return Err(Error::Invalid(format!("unknown disposition {code:?}; use one of {}", known.join(", "))));
        }
        let uid = self
            .wrap_up
            .as_ref()
            .map(|w| w.uid.clone())
            .or_else(|| self.last_call.clone())
            .ok_or_else(|| Error::NoCall("no call to wrap up".into()))?;
        self.records.disposition(&uid, code)?;
        self.end_wrap_up();
        Ok(())
    }

    fn note_transfer(&mut self, call: ua::CallId, target: String, warm: bool) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.transfer = Some((target, warm));
        }
    }

    /// A transfer of `call` ended this way: into the history.
    fn transfer_outcome(&mut self, call: ua::CallId, outcome: warmline_store::TransferOutcome, reason: Option<String>) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        let Some((target, warm)) = c.transfer.take() else { return };
        let uid = c.uid.clone();
        if !uid.is_empty() {
            self.records.transfer(&uid, &target, warm, outcome, reason);
        }
    }

    fn emit_devices(&self) {
        // `default` follows the system's choice; it is what a fresh
        // configuration says, so it is always offered.
        let system = || crate::AudioDevice { id: "default".into(), name: "System default".into() };
        let (mut inputs, mut outputs) = (vec![system()], vec![system()]);
        match warmline_media::device::list_devices() {
            Ok(list) => {
                for d in list {
                    let entry = crate::AudioDevice { id: d.id, name: d.name };
                    match d.kind {
                        warmline_media::device::DeviceKind::Input => inputs.push(entry),
                        _ => outputs.push(entry),
                    }
                }
            }
            Err(e) => tracing::info!("listing audio devices: {e}"),
        }
        self.emit(AgentEvent::Devices {
            devices: crate::AudioDevices {
                inputs,
                outputs,
                input: self.devices.input.clone(),
                output: self.devices.output.clone(),
                ringer: self.devices.ringer.clone(),
            },
        });
    }

    /// Switches a device, mid-call too: the audio task reopens it.
    async fn choose_device(&mut self, role: crate::DeviceRole, id: String) -> Result<(), Error> {
        let id = id.trim().to_owned();
        if id.is_empty() {
            return Err(Error::Invalid("a device id, or \"default\"".into()));
        }
        match role {
            crate::DeviceRole::Input => {
                let _ = self.audio.send(Control::Input(device_id(&id))).await;
                self.devices.input = id;
            }
            crate::DeviceRole::Output => {
                let _ = self.audio.send(Control::Output(device_id(&id))).await;
                self.devices.output = id;
            }
            crate::DeviceRole::Ringer => self.devices.ringer = id,
        }
        self.emit_devices();
        Ok(())
    }

    /// Joins the customer and the consulted expert: the customer comes off
    /// hold and the agent's mixer gives each party the other two.
    async fn conference(&mut self) -> Result<(), Error> {
        let Some(w) = self.warm.as_ref().filter(|w| w.deadline.is_none() && !w.completing && !w.conference) else {
            return Err(Error::Invalid("no consult to join: start a warm transfer and wait for the expert".into()));
        };
        let customer = w.customer;
        if self.calls.get(&customer).is_some_and(|c| c.held) {
            self.reoffer(customer, Reoffer::Resume).await?;
        }
        if let Some(w) = self.warm.as_mut() {
            w.conference = true;
        }
        self.emit(AgentEvent::Transfer { call: call_name(customer), phase: TransferPhase::Conference, reason: None });
        Ok(())
    }

    /// The CRM answered a screen-pop lookup.
    fn looked_up(&mut self, lookup: Lookup) {
        let Some((id, c)) = self.calls.iter().find(|(id, _)| call_name(**id) == lookup.call) else { return };
        if let Some(why) = &lookup.failed {
            tracing::info!("{}: CRM lookup failed: {why}", call_name(*id));
        }
        let customer = self.records.looked_up(&c.party, lookup.customer, c.queue.clone(), c.case.clone());
        self.emit(AgentEvent::Context { call: lookup.call, customer });
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

    fn target(&self, to: &str) -> Result<Uri, Error> {
        let text = match self.config.dial_policy.allows(to).map_err(Error::Dial)? {
            Target::Number(n) => format!("sip:{n}@{}", self.config.domain),
            Target::Address { user, .. } => format!("sip:{user}"),
        };
        text.parse().map_err(|e| Error::Invalid(format!("{to}: {e}")))
    }

    async fn new_media(&mut self, id: ua::CallId) -> Result<Arc<MediaSession>, Error> {
        let (session, port) = MediaSession::new(self.config.media.clone()).await.map_err(media_err)?;
        let session = Arc::new(session);
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
        self.calls.entry(id).or_insert_with(Call::new).media = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Calls `uri`; `consult_for` names the customer call (its history id)
    /// when this is a warm transfer's consult call.
    async fn dial(&mut self, uri: Uri, consult_for: Option<String>) -> Result<ua::CallId, Error> {
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
        let dialled = self.ua(move |ua, now| ua.dial(now, uri, offer.into_bytes())).await;
        let id = match dialled {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => {
                let _ = session.close().await;
                return Err(Error::Sip(e));
            }
            Err(e) => return Err(e),
        };
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
        let party = match &uri_text {
            Some(t) => self.records.normalise(t),
            None => String::new(),
        };
        let uid = format!("{}-{}", self.session_tag, call_name(id));
        let c = self.calls.entry(id).or_insert_with(Call::new);
        c.media = Some(Arc::new(session));
        c.uid = uid.clone();
        c.party = party.clone();
        let local = self.config.sip.aor.to_string();
        self.records.call_started(warmline_store::CallStart {
            call_uid: uid,
            direction: warmline_store::Direction::Outbound,
            local_party: local,
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

    async fn answer(&mut self, id: ua::CallId) -> Result<(), Error> {
        let (offer, needs_offer) = match self.calls.get(&id) {
            Some(c) if c.media.is_some() => return Err(Error::Invalid(format!("{} is being answered", call_name(id)))),
            Some(c) => (c.offer.clone(), c.needs_offer),
            None => return Err(Error::NoCall(call_name(id))),
        };
        let media = self.new_media(id).await?;
        let sdp = match (offer, needs_offer) {
            (Some(offer), _) => {
                let offer = String::from_utf8_lossy(&offer).into_owned();
                media.accept_offer(&offer).await.map_err(media_err)?
            }
            (None, true) => media.create_offer().await.map_err(media_err)?,
            (None, false) => return Err(Error::Invalid("the call's offer has not arrived yet".into())),
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.ringing_here = false;
            c.incoming = false;
            c.offer = None;
        }
        self.ua(move |ua, now| ua.answer(now, id, sdp.into_bytes())).await?.map_err(Error::Sip)
    }

    /// Hold or resume: the media's direction, a new offer, the re-INVITE
    /// (deferred while another exchange runs).
    async fn reoffer(&mut self, id: ua::CallId, what: Reoffer) -> Result<(), Error> {
        let media = self.calls.get(&id).and_then(|c| c.media.clone()).ok_or(Error::NoCall(call_name(id)))?;
        let direction = if what == Reoffer::Hold { Direction::SendOnly } else { Direction::SendRecv };
        media.set_direction(direction).await.map_err(media_err)?;
        let offer = media.create_offer().await.map_err(media_err)?.into_bytes();
        if let Some(c) = self.calls.get_mut(&id) {
            // What the agent hears and says follows the button at once.
            c.held = what == Reoffer::Hold;
            c.deferred = Some((what, offer));
            let live = c.live();
            let _ = self.audio.send(Control::Live(id.get(), live)).await;
        }
        self.try_reoffer(id).await
    }

    async fn try_reoffer(&mut self, id: ua::CallId) -> Result<(), Error> {
        let Some((what, offer)) = self.calls.get(&id).and_then(|c| c.deferred.clone()) else { return Ok(()) };
        let sent = self
            .ua(move |ua, now| match what {
                Reoffer::Hold => ua.hold(now, id, offer),
                Reoffer::Resume => ua.resume(now, id, offer),
                Reoffer::IceRestart => ua.reoffer(now, id, offer, ReofferMethod::Invite),
            })
            .await?;
        match sent {
            Err(ua::Error::OfferPending(_)) => Ok(()),
            other => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.deferred = None;
                }
                other.map_err(Error::Sip)
            }
        }
    }

    /// The file the settings screen edits.
    fn connection_file(&self) -> Result<std::path::PathBuf, Error> {
        self.config
            .config_file
            .clone()
            .or_else(crate::connection::user_file)
            .ok_or_else(|| Error::Config("no configuration directory for this user".into()))
    }

    /// The host's network changed: every connected call restarts ICE
    /// (new credentials, new candidates) with a re-INVITE, and shows
    /// `reconnecting` until its media is up again.
    async fn network_changed(&mut self, why: &str) {
        let calls: Vec<ua::CallId> =
            self.calls.iter().filter(|(_, c)| c.connected && c.media.is_some()).map(|(id, _)| *id).collect();
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
            c.restarting = true;
            // A hold or resume waiting to go out carries the new
            // credentials too; otherwise the restart goes on its own.
            let what = c.deferred.take().map_or(Reoffer::IceRestart, |(what, _)| what);
            c.deferred = Some((what, offer));
        }
        self.call_state(id, CallState::Reconnecting);
        self.try_reoffer(id).await
    }

    /// A restarting call whose media is up again shows its state again.
    fn media_back(&mut self, id: ua::CallId) {
        let Some(c) = self.calls.get_mut(&id) else { return };
        if !c.restarting || !c.media.as_ref().is_some_and(|m| m.is_connected()) {
            return;
        }
        c.restarting = false;
        let state = if c.held { CallState::Held } else { CallState::Connected };
        self.call_state(id, state);
    }

    async fn retry_deferred(&mut self) {
        let waiting: Vec<ua::CallId> =
            self.calls.iter().filter(|(_, c)| c.deferred.is_some()).map(|(id, _)| *id).collect();
        for id in waiting {
            if let Err(e) = self.try_reoffer(id).await {
                self.error(&e);
            }
        }
    }

    async fn warm_transfer(&mut self, customer: ua::CallId, expert: Uri) -> Result<(), Error> {
        let target = expert.to_string();
        if self.calls.get(&customer).is_some_and(|c| !c.held) {
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
        self.warm = Some(Warm {
            customer,
            consult,
            deadline: Some(tokio::time::Instant::now() + self.config.transfer_ring_timeout),
            dropped: None,
            completing: false,
            conference: false,
        });
        self.note_transfer(customer, target, true);
        self.emit(AgentEvent::Transfer {
            call: call_name(customer),
            phase: TransferPhase::DiallingExpert,
            reason: None,
        });
        Ok(())
    }

    async fn cancel_transfer(&mut self) -> Result<(), Error> {
        let Some(w) = self.warm.as_mut().filter(|w| !w.completing) else {
            return Err(Error::Invalid("no warm transfer to cancel".into()));
        };
        w.dropped = Some("cancelled");
        w.deadline = None;
        let consult = w.consult;
        self.ua(move |ua, now| ua.hangup(now, consult)).await?.map_err(Error::Sip)
    }

    async fn expert_did_not_answer(&mut self) {
        let Some(w) = self.warm.as_mut() else { return };
        w.deadline = None;
        w.dropped = Some("no answer");
        let consult = w.consult;
        match self.ua(move |ua, now| ua.hangup(now, consult)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.error(&Error::Sip(e)),
            Err(e) => self.error(&e),
        }
    }

    /// The consult ended before the transfer completed: back to the customer.
    async fn return_to_customer(&mut self, w: Warm, reason: String) {
        let outcome = if reason == "cancelled" {
            warmline_store::TransferOutcome::Cancelled
        } else {
            warmline_store::TransferOutcome::Failed
        };
        self.transfer_outcome(w.customer, outcome, Some(reason.clone()));
        if self.calls.get(&w.customer).is_some_and(|c| c.held)
            && let Err(e) = self.reoffer(w.customer, Reoffer::Resume).await
        {
            self.error(&e);
        }
        self.emit(AgentEvent::Transfer {
            call: call_name(w.customer),
            phase: TransferPhase::Returned,
            reason: Some(reason),
        });
    }

    async fn quit(&mut self) {
        let _ = self.ua.shutdown(|ua, now| ua.shutdown(now), |ua: &UserAgent| !ua.is_registered(), QUIT_WITHIN).await;
        let ids: Vec<ua::CallId> = self.calls.keys().copied().collect();
        for id in ids {
            self.forget(id).await;
            self.emit(AgentEvent::Call {
                call: call_name(id),
                state: CallState::Ended { reason: "local hangup".into() },
            });
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

    async fn forget(&mut self, id: ua::CallId) {
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

    // ----- events -----

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
            Event::Dialing { call } => self.call_state(call, CallState::Dialing),
            Event::Ringing { call } => self.call_state(call, CallState::Ringing),
            Event::EarlyMedia { call } => self.call_state(call, CallState::Early),
            Event::Connected { call } => self.connected(call).await,
            Event::Held { call } => self.call_state(call, CallState::Held),
            Event::Resumed { call } => self.call_state(call, CallState::Connected),
            Event::RemoteHeld { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.remote_held = true;
                }
                self.call_state(call, CallState::RemoteHeld);
            }
            Event::RemoteResumed { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.remote_held = false;
                }
                let state =
                    if self.calls.get(&call).is_some_and(|c| c.held) { CallState::Held } else { CallState::Connected };
                self.call_state(call, state);
            }
            Event::OfferRejected { call, status } => {
                self.error(&Error::Invalid(format!(
                    "{}: the far end refused the new media offer ({status})",
                    call_name(call)
                )));
            }
            Event::Ended { call, reason, status } => self.ended(call, reason, status).await,
            Event::CallReconnecting { call } => self.call_state(call, CallState::Reconnecting),
            Event::CallReconnected { call } => {
                let state = match self.calls.get(&call) {
                    Some(c) if c.held => CallState::Held,
                    Some(c) if c.remote_held => CallState::RemoteHeld,
                    _ => CallState::Connected,
                };
                self.call_state(call, state);
            }
            Event::OfferReceived { call, sdp } => self.offer_received(call, sdp).await,
            Event::OfferNeeded { call } => self.offer_needed(call).await,
            Event::AnswerReceived { call, sdp } => {
                let media = self.calls.get(&call).and_then(|c| c.media.clone());
                if let Some(media) = media
                    && let Err(e) = media.accept_answer(&String::from_utf8_lossy(&sdp)).await
                {
                    self.error(&media_err(e));
                    let _ = self.ua(move |ua, now| ua.hangup(now, call)).await;
                }
                self.media_back(call);
            }
            Event::Transfer { call, progress } => self.transfer_progress(call, progress),
            Event::TransferRequested { call, new_call, .. } => {
                tracing::info!("{} asks us to call someone else; calling as {}", call_name(call), call_name(new_call));
                self.calls.insert(new_call, Call::new());
                self.show_state();
            }
            other => tracing::debug!("user agent: {other:?}"),
        }
    }

    fn call_state(&mut self, call: ua::CallId, state: CallState) {
        if self.calls.contains_key(&call) {
            self.emit(AgentEvent::Call { call: call_name(call), state });
        }
    }

    async fn incoming(&mut self, call: ua::CallId, info: &ua::IncomingCall) {
        let replaces = info.replaces.is_some_and(|r| self.calls.contains_key(&r));
        let acd_none = self.config.acd == AcdKind::None;
        // With a plain PBX every call is refused while the agent is not
        // available; with an ACD (PIDF) it should not offer one then, but if
        // it does (a race with a state change) the agent refuses too and
        // the ACD re-queues. A second call while talking (call waiting) is
        // let through only with an ACD that chose to send it.
        let not_ready = self.chosen != AgentState::Available || self.wrap_up.is_some();
        if !replaces && (not_ready || (acd_none && !self.calls.is_empty())) {
            tracing::info!("{} refused with 486: the agent is not available", call_name(call));
            if let Err(e) = self.ua(move |ua, now| ua.reject(now, call, 486)).await {
                self.error(&e);
            }
            return;
        }
        let mut c = Call::new();
        c.ringing_here = !replaces;
        c.auto_answer = replaces || info.auto_answer;
        c.needs_offer = !info.has_offer;
        c.incoming = true;
        let answer_now = c.auto_answer && c.needs_offer;
        self.calls.insert(call, c);
        self.show_state();
        if replaces {
            // The transfer target's side of an attended transfer: the call
            // takes over one we already have, so it is answered at once.
            if answer_now {
                self.auto_answer(call).await;
            }
            return;
        }
        let caller = &info.data.caller;
        let from = match &caller.uri {
            Uri::Sip(u) => match &u.user {
                Some(user) => format!("{user}@{}", u.host),
                None => u.host.to_string(),
            },
            other => other.to_string(),
        };
        let field =
            |name: &str| info.data.fields.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let queue = self.config.sip.call_data_headers.first().and_then(|h| field(h));
        let case = self.config.sip.call_data_headers.get(1).and_then(|h| field(h));
        let party = self.records.normalise(&from);
        let uid = format!("{}-{}", self.session_tag, call_name(call));
        let local = self.config.sip.aor.to_string();
        self.records.call_started(warmline_store::CallStart {
            call_uid: uid.clone(),
            direction: warmline_store::Direction::Inbound,
            local_party: local,
            remote_party: party.clone(),
            remote_display: caller.display_name.clone(),
            started_at: warmline_store::Timestamp::now(),
            queue: queue.clone(),
            case_id: case.clone(),
            consult_for: None,
        });
        if let Some(c) = self.calls.get_mut(&call) {
            c.uid = uid;
            c.party = party.clone();
            c.queue = queue.clone();
            c.case = case.clone();
        }
        let announce = AgentEvent::Incoming {
            call: call_name(call),
            from: party.clone(),
            display_name: caller.display_name.clone(),
            queue: queue.clone(),
            case: case.clone(),
        };
        // The screen pop: what the cache knows at once, the CRM's answer later.
        let customer = self.records.context(&call_name(call), &party, queue, case);
        let context = AgentEvent::Context { call: call_name(call), customer };
        if answer_now {
            self.emit(announce);
            self.emit(context);
            self.auto_answer(call).await;
        } else if info.has_offer {
            if let Some(c) = self.calls.get_mut(&call) {
                c.announce = Some(announce);
                c.context = Some(context);
            }
        } else {
            self.emit(announce);
            self.emit(context);
            self.call_state(call, CallState::Ringing);
        }
    }

    async fn auto_answer(&mut self, call: ua::CallId) {
        if let Err(e) = self.answer(call).await {
            self.error(&e);
            let _ = self.ua(move |ua, now| ua.reject(now, call, 500)).await;
        }
    }

    async fn connected(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.connected = true;
        c.talked = true;
        c.ringing_here = false;
        let uid = c.uid.clone();
        self.records.call_answered(&uid);
        let live = c.live();
        let _ = self.audio.send(Control::Live(call.get(), live)).await;
        self.call_state(call, CallState::Connected);
        if let Some(w) = self.warm.as_mut()
            && w.consult == call
            && w.dropped.is_none()
        {
            w.deadline = None;
            let customer = w.customer;
            self.emit(AgentEvent::Transfer {
                call: call_name(customer),
                phase: TransferPhase::Consulting,
                reason: None,
            });
        }
    }

    async fn offer_received(&mut self, call: ua::CallId, sdp: Vec<u8>) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if c.incoming {
            // A new call's offer: it waits for the agent (or auto-answer).
            c.offer = Some(sdp);
            let auto = c.auto_answer;
            if let Some(announce) = c.announce.take() {
                let context = c.context.take();
                self.emit(announce);
                if let Some(context) = context {
                    self.emit(context);
                }
                self.call_state(call, CallState::Ringing);
            }
            if auto {
                self.auto_answer(call).await;
            }
            return;
        }
        let media = c.media.clone();
        let Some(media) = media else { return };
        match media.accept_offer(&String::from_utf8_lossy(&sdp)).await {
            Ok(answer) => match self.ua(move |ua, now| ua.accept_answer(now, call, answer.into_bytes())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.error(&Error::Sip(e)),
                Err(e) => self.error(&e),
            },
            Err(e) => {
                self.error(&media_err(e));
                let _ = self.ua(move |ua, now| ua.reject_offer(now, call, 488)).await;
            }
        }
    }

    async fn offer_needed(&mut self, call: ua::CallId) {
        let Some(c) = self.calls.get(&call) else { return };
        if c.incoming {
            return; // offered in the 2xx when the call is answered
        }
        let media = match c.media.clone() {
            Some(m) => m,
            None => match self.new_media(call).await {
                Ok(m) => m,
                Err(e) => {
                    self.error(&e);
                    let _ = self.ua(move |ua, now| ua.hangup(now, call)).await;
                    return;
                }
            },
        };
        match media.create_offer().await {
            Ok(offer) => match self.ua(move |ua, now| ua.provide_offer(now, call, offer.into_bytes())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.error(&Error::Sip(e)),
                Err(e) => self.error(&e),
            },
            Err(e) => {
                self.error(&media_err(e));
                let _ = self.ua(move |ua, now| ua.hangup(now, call)).await;
            }
        }
    }

    fn transfer_progress(&mut self, call: ua::CallId, progress: TransferProgress) {
        let failed = |reason: String| AgentEvent::Transfer {
            call: call_name(call),
            phase: TransferPhase::Failed,
            reason: Some(reason),
        };
        match progress {
            TransferProgress::Succeeded => {
                self.transfer_outcome(call, warmline_store::TransferOutcome::Completed, None);
                if self.warm.as_ref().is_some_and(|w| w.customer == call) {
                    self.warm = None;
                }
                self.emit(AgentEvent::Transfer {
                    call: call_name(call),
                    phase: TransferPhase::Completed,
                    reason: None,
                });
            }
            TransferProgress::Refused { status } => {
                self.transfer_outcome(
                    call,
                    warmline_store::TransferOutcome::Failed,
                    Some(format!("refused ({status})")),
                );
                if let Some(w) = self.warm.as_mut().filter(|w| w.customer == call) {
                    w.completing = false;
                }
                self.emit(failed(format!("the far end refused the transfer ({status}); both calls are still up")));
            }
            TransferProgress::Failed { status } => {
                self.transfer_outcome(
                    call,
                    warmline_store::TransferOutcome::Failed,
                    Some(format!("failed ({status})")),
                );
                if let Some(w) = self.warm.as_mut().filter(|w| w.customer == call) {
                    w.completing = false;
                }
                self.emit(failed(format!(
                    "the transfer target could not be reached ({status}); the calls are still up"
                )));
            }
            _ => {}
        }
    }

    async fn ended(&mut self, call: ua::CallId, reason: EndReason, status: Option<u16>) {
        let Some(c) = self.calls.get(&call) else { return };
        let (uid, talked, quality) = (c.uid.clone(), c.talked, c.quality);
        let consult = self.warm.as_ref().is_some_and(|w| w.consult == call);
        if !uid.is_empty() {
            if let Some((mos, loss, jitter)) = quality {
                self.records.quality(&uid, mos, loss, jitter);
            }
            self.records.call_ended(&uid);
        }
        self.forget(call).await;
        // A call the agent talked on (not a consult) is followed by wrap-up
        // once no other call is left.
        if talked && !consult && !uid.is_empty() {
            self.last_call = Some(uid.clone());
            if self.config.agent.wrap_up_seconds > 0 {
                let until = tokio::time::Instant::now()
                    + std::time::Duration::from_secs(self.config.agent.wrap_up_seconds.into());
                self.wrap_up = Some(WrapUp { uid, until });
            }
        }
        self.emit(AgentEvent::Call {
            call: call_name(call),
            state: CallState::Ended { reason: end_reason(reason, status) },
        });
        let (consult, customer, completing) = match &self.warm {
            Some(w) => (w.consult, w.customer, w.completing),
            None => return self.show_state(),
        };
        if call == consult && !completing {
            if let Some(w) = self.warm.take() {
                let why = match (w.dropped, reason) {
                    (Some(d), _) => d.to_owned(),
                    (None, EndReason::Busy) => "busy".to_owned(),
                    (None, EndReason::Declined | EndReason::Rejected) => "declined".to_owned(),
                    (None, EndReason::Timeout | EndReason::Cancelled) => "no answer".to_owned(),
                    (None, EndReason::RemoteHangup) => "the expert hung up".to_owned(),
                    (None, other) => end_reason(other, status),
                };
                self.return_to_customer(w, why).await;
            }
        } else if call == customer && !completing {
            self.warm = None;
            self.emit(AgentEvent::Transfer {
                call: call_name(call),
                phase: TransferPhase::Failed,
                reason: Some("the customer hung up".into()),
            });
        } else if completing && !self.calls.contains_key(&customer) && !self.calls.contains_key(&consult) {
            self.warm = None;
        }
        self.show_state();
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
            MediaEvent::Failed => {
                self.error(&Error::Invalid(format!("{}: media connectivity failed", call_name(call))))
            }
            other => tracing::debug!("{}: media {other:?}", call_name(call)),
        }
    }
}

fn end_reason(reason: EndReason, status: Option<u16>) -> String {
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

/// How often the network is looked at where the OS sends no notifications
/// (and how soon a watch notices its session ended).
const NETWORK_POLL: Duration = Duration::from_secs(2);

/// The next network change, or never when nothing is watched.
async fn next_change(network: &mut Option<mpsc::Receiver<NetworkChange>>) -> Option<NetworkChange> {
    match network {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
