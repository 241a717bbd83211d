//! Audio devices through cpal, and the device-free backends (WAV, null).
//!
//! cpal calls our closures on its own real-time threads. Those closures only
//! move samples between the device buffer and a bounded lock-free ring
//! (`rtrb`): no lock, no allocation, no syscall. When a ring is full (the
//! engine fell behind) or empty (the network did), the callback drops or
//! plays silence and counts it. The engine side resamples to and from
//! 48 kHz mono in 20 ms frames.
//!
//! A device that disappears mid-call raises a flag from cpal's error
//! callback; [`SystemInput::lost`] / [`SystemOutput::lost`] report it and
//! the engine reopens the default device.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use crate::Error;
use crate::resample::Resampler;

/// The engine's rate: everything inside runs at 48 kHz mono.
pub const ENGINE_RATE: u32 = 48_000;
/// Samples in one 20 ms engine frame.
pub const FRAME: usize = 960;

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
    /// Stable id to store in the configuration (`host:device`).
    pub id: String,
    /// Name to show.
    pub name: String,
    /// Capture or playback.
    pub kind: DeviceKind,
    /// Whether it is the system default.
    pub is_default: bool,
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

fn find_device(id: Option<&str>, kind: DeviceKind) -> Result<cpal::Device, Error> {
    let host = cpal::default_host();
    let found = match id {
        Some(id) => {
            let parsed: cpal::DeviceId = id.parse().map_err(device_err(id))?;
            host.device_by_id(&parsed)
        }
        None if kind == DeviceKind::Input => host.default_input_device(),
        None => host.default_output_device(),
    };
    found.ok_or_else(|| Error::Device { device: id.unwrap_or("default").into(), reason: "no such device".into() })
}

/// Counters the callbacks keep without locking.
#[derive(Debug, Default)]
pub struct DeviceCounters {
    /// Samples dropped (capture ring full) or played as silence (playback ring empty).
    pub glitches: AtomicU64,
    /// Set by cpal's error callback: the device went away or failed.
    pub lost: AtomicBool,
}

/// A started stream and the engine's end of its ring.
struct Running<R> {
    stream: cpal::Stream,
    ring: R,
    rate: u32,
    counters: Arc<DeviceCounters>,
    name: String,
}

type Producer = rtrb::Producer<i16>;
type Consumer = rtrb::Consumer<i16>;

/// Open a device at its default configuration with a ring of half a second
/// (the engine drains or fills it every 20 ms). `split` picks which ring end
/// the callback gets; `build` returns `None` for a sample format we do not handle.
fn open_stream<Engine, Callback>(
    id: Option<&str>,
    kind: DeviceKind,
    split: fn(Producer, Consumer) -> (Engine, Callback),
    build: impl FnOnce(
        &cpal::Device,
        SampleFormat,
        &cpal::StreamConfig,
        Callback,
        Arc<DeviceCounters>,
    ) -> Option<Result<cpal::Stream, cpal::Error>>,
) -> Result<Running<Engine>, Error> {
    let device = find_device(id, kind)?;
    let name = id.unwrap_or("default").to_owned();
    let supported = match kind {
        DeviceKind::Input => device.default_input_config(),
        DeviceKind::Output => device.default_output_config(),
    }
    .map_err(device_err(&name))?;
    let config = supported.config();
    let rate = config.sample_rate;
    let (engine, callback) = split_ring(rate, split);
    let counters = Arc::new(DeviceCounters::default());
    let format = supported.sample_format();
    let Some(stream) = build(&device, format, &config, callback, Arc::clone(&counters)) else {
        return Err(Error::Device { device: name, reason: format!("sample format {format:?}") });
    };
    let stream = stream.map_err(device_err(&name))?;
    stream.play().map_err(device_err(&name))?;
    Ok(Running { stream, ring: engine, rate, counters, name })
}

fn split_ring<E, C>(rate: u32, split: fn(Producer, Consumer) -> (E, C)) -> (E, C) {
    let (producer, consumer) = rtrb::RingBuffer::new(rate as usize / 2);
    split(producer, consumer)
}

/// A capturing device: 20 ms frames of 48 kHz mono on demand.
pub struct SystemInput {
    _stream: cpal::Stream,
    ring: rtrb::Consumer<i16>,
    resampler: Resampler,
    scratch: Vec<i16>,
    pending: Vec<i16>,
    counters: Arc<DeviceCounters>,
    device: String,
}

impl std::fmt::Debug for SystemInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemInput").field("device", &self.device).finish_non_exhaustive()
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
        move |_| on_error.lost.store(true, Ordering::Relaxed),
        None,
    )
}

impl SystemInput {
    /// Open a capture device by id, or the default one.
    pub fn open(id: Option<&str>) -> Result<Self, Error> {
        let Running { stream, ring, rate, counters, name } = open_stream(
            id,
            DeviceKind::Input,
            |producer, consumer| (consumer, producer),
            |device, format, config, producer, c| match format {
                SampleFormat::F32 => Some(build_input::<f32>(device, config, producer, c)),
                SampleFormat::I16 => Some(build_input::<i16>(device, config, producer, c)),
                SampleFormat::I32 => Some(build_input::<i32>(device, config, producer, c)),
                _ => None,
            },
        )?;
        Ok(Self {
            _stream: stream,
            ring,
            resampler: Resampler::new(rate, ENGINE_RATE),
            scratch: Vec::with_capacity(rate as usize / 2),
            pending: Vec::with_capacity(ENGINE_RATE as usize),
            counters,
            device: name,
        })
    }

    /// Move captured samples in; fill `out` (one frame) if a frame is ready.
    pub fn read_frame(&mut self, out: &mut [i16]) -> bool {
        self.scratch.clear();
        while let Ok(s) = self.ring.pop() {
            self.scratch.push(s);
        }
        self.resampler.process(&self.scratch, &mut self.pending);
        if self.pending.len() < out.len() {
            return false;
        }
        out.copy_from_slice(&self.pending[..out.len()]);
        self.pending.drain(..out.len());
        true
    }

    /// Whether the device failed or disappeared.
    pub fn lost(&self) -> bool {
        self.counters.lost.load(Ordering::Relaxed)
    }

    /// Callback counters.
    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }
}

/// A playing device fed with 20 ms frames of 48 kHz mono.
pub struct SystemOutput {
    _stream: cpal::Stream,
    ring: rtrb::Producer<i16>,
    resampler: Resampler,
    scratch: Vec<i16>,
    counters: Arc<DeviceCounters>,
    device: String,
}

impl std::fmt::Debug for SystemOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemOutput").field("device", &self.device).finish_non_exhaustive()
    }
}

fn build_output<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut ring: rtrb::Consumer<i16>,
    counters: Arc<DeviceCounters>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = usize::from(config.channels.max(1));
    let on_error = Arc::clone(&counters);
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], _| {
            for frame in data.chunks_mut(channels) {
                let s = ring.pop().unwrap_or_else(|_| {
                    counters.glitches.fetch_add(1, Ordering::Relaxed);
                    0
                });
                frame.fill(T::from_sample(s));
            }
        },
        move |_| on_error.lost.store(true, Ordering::Relaxed),
        None,
    )
}

impl SystemOutput {
    /// Open a playback device by id (a ringer, a headset) or the default.
    pub fn open(id: Option<&str>) -> Result<Self, Error> {
        let Running { stream, ring, rate, counters, name } = open_stream(
            id,
            DeviceKind::Output,
            |producer, consumer| (producer, consumer),
            |device, format, config, consumer, c| match format {
                SampleFormat::F32 => Some(build_output::<f32>(device, config, consumer, c)),
                SampleFormat::I16 => Some(build_output::<i16>(device, config, consumer, c)),
                SampleFormat::I32 => Some(build_output::<i32>(device, config, consumer, c)),
                _ => None,
            },
        )?;
        Ok(Self {
            _stream: stream,
            ring,
            resampler: Resampler::new(ENGINE_RATE, rate),
            scratch: Vec::with_capacity(rate as usize / 2),
            counters,
            device: name,
        })
    }

    /// Queue one frame for playback; what does not fit is dropped (and counted).
    pub fn write_frame(&mut self, frame: &[i16]) {
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

    /// Whether the device failed or disappeared.
    pub fn lost(&self) -> bool {
        self.counters.lost.load(Ordering::Relaxed)
    }

    /// Callback counters.
    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }
}
