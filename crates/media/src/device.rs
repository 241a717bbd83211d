//! Audio devices through cpal, and the device-free backends (WAV, null).
//!
//! cpal calls our closures on its own real-time threads. Those closures only
//! move samples between the device buffer and a bounded lock-free ring
//! (`rtrb`): no lock, no allocation, no syscall. When a ring is full (the
//! engine fell behind) or empty (the network did), the callback drops or
//! plays silence and counts it. The engine side resamples to and from
//! 48 kHz mono in 20 ms frames.
//!
//! On Linux the devices are PulseAudio's sinks and sources (cpal's
//! `pulseaudio` host, which also serves PipeWire through pipewire-pulse)
//! when a server runs, so a user can pick a headset or a ringer by name;
//! ALSA otherwise.
//!
//! # Hot-plug
//!
//! A device can stop being the right one in three ways, each raising a
//! [`DeviceChange`] flag the engine reads without blocking:
//! * cpal's error callback reports a fatal stream error ([`DeviceChange::Failed`]);
//! * a watcher thread per open device, which asks the audio server every
//!   250 ms, no longer finds the device ([`DeviceChange::Gone`]). PulseAudio
//!   quietly moves a stream whose sink is unloaded, so without this check we
//!   would never learn that the headset the agent chose is gone;
//! * the device was opened as "the system default" and the default changed
//!   ([`DeviceChange::DefaultChanged`]).
//!
//! [`crate::backend::Source::recover`] and [`crate::backend::Sink::recover`]
//! then open the current default in its place and return a
//! [`crate::backend::DeviceEvent::Reopened`]; the call goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use crate::Error;
use crate::resample::Resampler;

/// The engine's rate: everything inside runs at 48 kHz mono.
pub const ENGINE_RATE: u32 = 48_000;
/// Samples in one 20 ms engine frame.
pub const FRAME: usize = 960;
/// How often the watcher asks the audio server whether a device is still there.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// Playback queued beyond this (a device that started late, an engine that
/// ran ahead) is delay on the call: new frames are dropped until the queue
/// is back under [`PLAYBACK_LOW_MS`].
const PLAYBACK_HIGH_MS: usize = 80;
/// See [`PLAYBACK_HIGH_MS`].
const PLAYBACK_LOW_MS: usize = 40;
/// Captured audio the engine has not taken beyond this is dropped, oldest first.
const CAPTURE_MAX_MS: usize = 100;

/// Whether a device captures or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceKind {
    /// A microphone.
    Input,
    /// A speaker or headset.
    Output,
}

/// One audio device as the settings screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Stable id to store in the configuration (`host:device`, for example
    /// `pulseaudio:alsa_output.usb-headset`).
    pub id: String,
    /// Name to show.
    pub name: String,
    /// Capture or playback.
    pub kind: DeviceKind,
    /// Whether it is the system default.
    pub is_default: bool,
}

/// Why an open device should be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceChange {
    /// The stream reported a fatal error.
    Failed,
    /// The device is no longer listed: unplugged, or its sink or source unloaded.
    Gone,
    /// It was opened as the system default, and the default is now another device.
    DefaultChanged,
}

impl DeviceChange {
    fn code(self) -> u8 {
        match self {
            DeviceChange::Failed => 1,
            DeviceChange::Gone => 2,
            DeviceChange::DefaultChanged => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(DeviceChange::Failed),
            2 => Some(DeviceChange::Gone),
            3 => Some(DeviceChange::DefaultChanged),
            _ => None,
        }
    }
}

fn device_err(device: &str) -> impl FnOnce(cpal::Error) -> Error + '_ {
    move |e| Error::Device { device: device.to_owned(), reason: e.to_string() }
}

fn describe(d: &cpal::Device, kind: DeviceKind, default_id: Option<&str>) -> Option<Device> {
    let id = d.id().ok()?.to_string();
    let name = d.description().map(|x| x.name().to_owned()).unwrap_or_else(|_| id.clone());
    Some(Device { is_default: default_id == Some(id.as_str()), id, name, kind })
}

/// Every input and output device of the default host.
pub fn list_devices() -> Result<Vec<Device>, Error> {
    let host = cpal::default_host();
    let mut out = Vec::new();
    let default_in = host.default_input_device().and_then(|d| d.id().ok()).map(|i| i.to_string());
    let default_out = host.default_output_device().and_then(|d| d.id().ok()).map(|i| i.to_string());
    for d in host.input_devices().map_err(device_err("inputs"))? {
        out.extend(describe(&d, DeviceKind::Input, default_in.as_deref()));
    }
    for d in host.output_devices().map_err(device_err("outputs"))? {
        out.extend(describe(&d, DeviceKind::Output, default_out.as_deref()));
    }
    Ok(out)
}

fn default_device(host: &cpal::Host, kind: DeviceKind) -> Option<cpal::Device> {
    match kind {
        DeviceKind::Input => host.default_input_device(),
        DeviceKind::Output => host.default_output_device(),
    }
}

/// The device `id` names (on the host the id names), or the default one.
fn find_device(id: Option<&str>, kind: DeviceKind) -> Result<(cpal::Device, cpal::DeviceId), Error> {
    let missing = || Error::Device { device: id.unwrap_or("default").into(), reason: "no such device".into() };
    let device = match id {
        Some(id) => {
            let parsed: cpal::DeviceId = id.parse().map_err(device_err(id))?;
            let host = cpal::host_from_id(parsed.host()).map_err(device_err(id))?;
            host.device_by_id(&parsed)
        }
        None => default_device(&cpal::default_host(), kind),
    }
    .ok_or_else(missing)?;
    let resolved = device.id().map_err(device_err(id.unwrap_or("default")))?;
    Ok((device, resolved))
}

/// Whether the device `id` names (or a default one) is there, without
/// opening a stream on it: a microphone chosen in the settings that has gone
/// is reported when the agent starts, though devices open only for a call.
pub fn check_device(id: Option<&str>, kind: DeviceKind) -> Result<(), Error> {
    find_device(id, kind).map(|_| ())
}

/// Counters and flags the callbacks and the watcher keep without locking.
#[derive(Debug, Default)]
pub struct DeviceCounters {
    /// Samples dropped (capture ring full) or played as silence (playback ring empty).
    pub glitches: AtomicU64,
    /// Buffer under- or overruns the audio system reported.
    pub xruns: AtomicU64,
    change: AtomicU8,
}

impl DeviceCounters {
    /// Why the device should be replaced, if it should.
    pub fn change(&self) -> Option<DeviceChange> {
        DeviceChange::from_code(self.change.load(Ordering::Relaxed))
    }

    fn flag(&self, change: DeviceChange) {
        // The first reason wins: later ones are consequences of it.
        let _ = self.change.compare_exchange(0, change.code(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// cpal's error callback: an xrun is counted, a lost route followed by
    /// the backend is nothing to act on, anything else ends the stream.
    fn stream_error(&self, error: &cpal::Error) {
        match error.kind() {
            cpal::ErrorKind::Xrun => {
                self.xruns.fetch_add(1, Ordering::Relaxed);
            }
            cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied => {}
            _ => self.flag(DeviceChange::Failed),
        }
    }
}

/// Stops its watcher thread when dropped (the thread's channel closes).
#[derive(Debug)]
struct Watch {
    _stop: mpsc::Sender<()>,
}

/// Asks the audio server every [`WATCH_INTERVAL`] whether `id` still exists
/// and, for a device opened as the default, whether it still is the default.
/// Runs on its own thread: the engine and the audio callbacks never wait for
/// the server.
fn watch(id: cpal::DeviceId, kind: DeviceKind, follows_default: bool, counters: Arc<DeviceCounters>) -> Watch {
    let (stop, stopped) = mpsc::channel::<()>();
    let name = id.to_string();
    let spawned = std::thread::Builder::new().name("warmline-device-watch".into()).spawn(move || {
        let Ok(host) = cpal::host_from_id(id.host()) else { return };
        // Waiting on the channel paces the checks and ends the thread as
        // soon as the device is closed.
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(WATCH_INTERVAL) {
            if host.device_by_id(&id).is_none() {
                counters.flag(DeviceChange::Gone);
                return;
            }
            if follows_default
                && let Some(default) = default_device(&host, kind).and_then(|d| d.id().ok())
                && default != id
            {
                counters.flag(DeviceChange::DefaultChanged);
                return;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("no device watcher for {name}: {e}");
    }
    Watch { _stop: stop }
}

/// A started stream and what the engine keeps of it.
struct Running<E> {
    stream: cpal::Stream,
    engine_end: E,
    rate: u32,
    counters: Arc<DeviceCounters>,
    id: String,
    follows_default: bool,
    watch: Watch,
}

/// Open a device at its default configuration and start it. `ends` makes
/// the engine's and the callback's halves of whatever connects them for a
/// device running at `rate`; `build` returns `None` for a sample format we
/// do not handle.
fn open_stream<E, C>(
    id: Option<&str>,
    kind: DeviceKind,
    ends: impl FnOnce(u32) -> (E, C),
    build: impl FnOnce(
        &cpal::Device,
        SampleFormat,
        &cpal::StreamConfig,
        C,
        Arc<DeviceCounters>,
    ) -> Option<Result<cpal::Stream, cpal::Error>>,
) -> Result<Running<E>, Error> {
    let (device, resolved) = find_device(id, kind)?;
    let name = resolved.to_string();
    let supported = match kind {
        DeviceKind::Input => device.default_input_config(),
        DeviceKind::Output => device.default_output_config(),
    }
    .map_err(device_err(&name))?;
    let mut config = supported.config();
    let rate = config.sample_rate;
    // 10 ms device periods. Left to itself PulseAudio buffers two seconds
    // of playback, which would be two seconds of added delay on a call.
    let period = rate / 100;
    if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size()
        && (*min..=*max).contains(&period)
    {
        config.buffer_size = cpal::BufferSize::Fixed(period);
    }
    let (engine_end, callback_end) = ends(rate);
    let counters = Arc::new(DeviceCounters::default());
    let format = supported.sample_format();
    let Some(stream) = build(&device, format, &config, callback_end, Arc::clone(&counters)) else {
        return Err(Error::Device { device: name, reason: format!("sample format {format:?}") });
    };
    let stream = stream.map_err(device_err(&name))?;
    stream.play().map_err(device_err(&name))?;
    let follows_default = id.is_none();
    let watch = watch(resolved, kind, follows_default, Arc::clone(&counters));
    Ok(Running { stream, engine_end, rate, counters, id: name, follows_default, watch })
}

/// A ring of half a second at `rate` (the engine drains or fills it every 20 ms).
fn ring(rate: u32) -> (rtrb::Producer<i16>, rtrb::Consumer<i16>) {
    rtrb::RingBuffer::new(rate as usize / 2)
}

/// A capturing device: 20 ms frames of 48 kHz mono on demand.
pub struct SystemInput {
    _stream: cpal::Stream,
    _watch: Watch,
    ring: rtrb::Consumer<i16>,
    resampler: Resampler,
    scratch: Vec<i16>,
    pending: Vec<i16>,
    counters: Arc<DeviceCounters>,
    id: String,
    follows_default: bool,
}

impl std::fmt::Debug for SystemInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemInput").field("id", &self.id).finish_non_exhaustive()
    }
}

fn build_input<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut ring: rtrb::Producer<i16>,
    counters: Arc<DeviceCounters>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    i16: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let on_error = Arc::clone(&counters);
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _| {
            for frame in data.chunks(channels) {
                // First channel only: a headset mic is mono however it is exposed.
                if ring.push(frame[0].to_sample::<i16>()).is_err() {
                    counters.glitches.fetch_add(1, Ordering::Relaxed);
                }
            }
        },
        move |e| on_error.stream_error(&e),
        None,
    )
}

impl SystemInput {
    /// Open a capture device by id, or the default one (and follow it).
    pub fn open(id: Option<&str>) -> Result<Self, Error> {
        let Running { stream, engine_end, rate, counters, id, follows_default, watch } = open_stream(
            id,
            DeviceKind::Input,
            |rate| {
                let (producer, consumer) = ring(rate);
                (consumer, producer)
            },
            |device, format, config, producer, c| match format {
                SampleFormat::F32 => Some(build_input::<f32>(device, config, producer, c)),
                SampleFormat::I16 => Some(build_input::<i16>(device, config, producer, c)),
                SampleFormat::I32 => Some(build_input::<i32>(device, config, producer, c)),
                _ => None,
            },
        )?;
        Ok(Self {
            _stream: stream,
            _watch: watch,
            ring: engine_end,
            resampler: Resampler::new(rate, ENGINE_RATE),
            scratch: Vec::with_capacity(rate as usize / 2),
            pending: Vec::with_capacity(ENGINE_RATE as usize),
            counters,
            id,
            follows_default,
        })
    }

    /// Move captured samples in; fill `out` (one frame) if a frame is ready.
    pub fn read_frame(&mut self, out: &mut [i16]) -> bool {
        self.scratch.clear();
        while let Ok(s) = self.ring.pop() {
            self.scratch.push(s);
        }
        self.resampler.process(&self.scratch, &mut self.pending);
        // After an engine stall, catch up instead of staying late.
        let excess = self.pending.len().saturating_sub(ENGINE_RATE as usize * CAPTURE_MAX_MS / 1000);
        if excess > 0 {
            self.pending.drain(..excess);
            self.counters.glitches.fetch_add(excess as u64, Ordering::Relaxed);
        }
        if self.pending.len() < out.len() {
            return false;
        }
        out.copy_from_slice(&self.pending[..out.len()]);
        self.pending.drain(..out.len());
        true
    }

    /// Why this device should be replaced, if it should.
    pub fn change(&self) -> Option<DeviceChange> {
        self.counters.change()
    }

    /// Whether the device failed, disappeared or stopped being the default we follow.
    pub fn lost(&self) -> bool {
        self.change().is_some()
    }

    /// The id of the device in use (the default resolved to its real id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this device was opened as the system default.
    pub fn follows_default(&self) -> bool {
        self.follows_default
    }

    /// Callback counters.
    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }
}

/// A playing device fed with 20 ms frames of 48 kHz mono.
pub struct SystemOutput {
    _stream: cpal::Stream,
    _watch: Watch,
    ring: rtrb::Producer<i16>,
    resampler: Resampler,
    scratch: Vec<i16>,
    counters: Arc<DeviceCounters>,
    id: String,
    follows_default: bool,
    /// Queue limits in device samples, and whether we are shedding a backlog.
    high: usize,
    low: usize,
    draining: bool,
}

impl std::fmt::Debug for SystemOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemOutput").field("id", &self.id).finish_non_exhaustive()
    }
}

/// An output stream whose callback takes each sample from `next` (a ring,
/// or a sound in memory), the same on every channel.
fn build_output<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut next: impl FnMut() -> i16 + Send + 'static,
    counters: Arc<DeviceCounters>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = usize::from(config.channels.max(1));
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], _| {
            for frame in data.chunks_mut(channels) {
                frame.fill(T::from_sample(next()));
            }
        },
        move |e| counters.stream_error(&e),
        None,
    )
}

/// `build_output` for the sample formats we handle.
fn build_output_any(
    device: &cpal::Device,
    format: SampleFormat,
    config: &cpal::StreamConfig,
    next: impl FnMut() -> i16 + Send + 'static,
    counters: Arc<DeviceCounters>,
) -> Option<Result<cpal::Stream, cpal::Error>> {
    match format {
        SampleFormat::F32 => Some(build_output::<f32>(device, config, next, counters)),
        SampleFormat::I16 => Some(build_output::<i16>(device, config, next, counters)),
        SampleFormat::I32 => Some(build_output::<i32>(device, config, next, counters)),
        _ => None,
    }
}

impl SystemOutput {
    /// Open a playback device by id (a headset), or the default one (and follow it).
    pub fn open(id: Option<&str>) -> Result<Self, Error> {
        let Running { stream, engine_end, rate, counters, id, follows_default, watch } = open_stream(
            id,
            DeviceKind::Output,
            ring,
            |device, format, config, mut consumer: rtrb::Consumer<i16>, c| {
                let glitches = Arc::clone(&c);
                let next = move || {
                    consumer.pop().unwrap_or_else(|_| {
                        glitches.glitches.fetch_add(1, Ordering::Relaxed);
                        0
                    })
                };
                build_output_any(device, format, config, next, c)
            },
        )?;
        Ok(Self {
            _stream: stream,
            _watch: watch,
            ring: engine_end,
            resampler: Resampler::new(ENGINE_RATE, rate),
            scratch: Vec::with_capacity(rate as usize / 2),
            counters,
            id,
            follows_default,
            high: rate as usize * PLAYBACK_HIGH_MS / 1000,
            low: rate as usize * PLAYBACK_LOW_MS / 1000,
            draining: false,
        })
    }

    /// Queue one frame for playback; what does not fit is dropped (and
    /// counted), and so is every frame while a backlog of more than 80 ms
    /// drains back to 40 ms, so the delay a late device start adds does not
    /// stay for the rest of the call.
    pub fn write_frame(&mut self, frame: &[i16]) {
        let queued = self.queued();
        self.draining = if self.draining { queued > self.low } else { queued > self.high };
        if self.draining {
            self.counters.glitches.fetch_add(frame.len() as u64, Ordering::Relaxed);
            return;
        }
        self.scratch.clear();
        self.resampler.process(frame, &mut self.scratch);
        for &s in &self.scratch {
            if self.ring.push(s).is_err() {
                self.counters.glitches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Samples queued and not yet played.
    pub fn queued(&self) -> usize {
        self.ring.buffer().capacity() - self.ring.slots()
    }

    /// Why this device should be replaced, if it should.
    pub fn change(&self) -> Option<DeviceChange> {
        self.counters.change()
    }

    /// Whether the device failed, disappeared or stopped being the default we follow.
    pub fn lost(&self) -> bool {
        self.change().is_some()
    }

    /// The id of the device in use (the default resolved to its real id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this device was opened as the system default.
    pub fn follows_default(&self) -> bool {
        self.follows_default
    }

    /// Callback counters.
    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }
}

/// A sound looping on an output device straight from memory: the ringtone
/// on the ringer device. The callback walks a buffer prepared at the
/// device's rate when it opened; no engine tick, no thread of our own.
pub struct LoopingOutput {
    _stream: cpal::Stream,
    _watch: Watch,
    counters: Arc<DeviceCounters>,
    id: String,
}

impl std::fmt::Debug for LoopingOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopingOutput").field("id", &self.id).finish_non_exhaustive()
    }
}

impl LoopingOutput {
    /// Play `sound` (48 kHz mono, one full cycle) on the device `id` (or
    /// the default) over and over until dropped.
    pub fn open(id: Option<&str>, sound: &[i16]) -> Result<Self, Error> {
        let running = open_stream(
            id,
            DeviceKind::Output,
            |rate| {
                let mut at_rate = Vec::with_capacity(sound.len() * rate as usize / ENGINE_RATE as usize + 64);
                Resampler::new(ENGINE_RATE, rate).process(sound, &mut at_rate);
                if at_rate.is_empty() {
                    at_rate.push(0);
                }
                ((), at_rate)
            },
            |device, format, config, samples: Vec<i16>, c| {
                let mut pos = 0;
                let next = move || {
                    let s = samples[pos];
                    pos = (pos + 1) % samples.len();
                    s
                };
                build_output_any(device, format, config, next, c)
            },
        )?;
        Ok(Self { _stream: running.stream, _watch: running.watch, counters: running.counters, id: running.id })
    }

    /// The id of the device it plays on.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Why this device should be replaced, if it should.
    pub fn change(&self) -> Option<DeviceChange> {
        self.counters.change()
    }
}
