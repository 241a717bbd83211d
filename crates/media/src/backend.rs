//! Device-free audio for tests and headless runs: WAV files and null, chosen
//! by configuration beside the real devices, so a full call runs with no
//! sound card.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::device::{DeviceChange, DeviceKind, ENGINE_RATE, SystemInput, SystemOutput};
use crate::resample::Resampler;

/// Where audio comes from and goes to (the `[audio]` configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudioBackend {
    /// The system's devices through cpal; `None` follows the default.
    System {
        /// Microphone id.
        input: Option<String>,
        /// Speaker or headset id.
        output: Option<String>,
        /// A separate device for the ringtone.
        ringer: Option<String>,
    },
    /// A WAV file plays as the microphone; what we hear is written to a WAV file.
    Wav {
        /// Played into the call (any rate, first channel), looped.
        input: PathBuf,
        /// Written at 48 kHz mono 16-bit.
        output: PathBuf,
    },
    /// No device: silence in, discard out.
    #[default]
    Null,
}

/// Something the UI should say about devices.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// The device in use failed, went away or stopped being the default we
    /// follow; the current default was opened in its place.
    Reopened {
        /// Microphone or speaker.
        direction: DeviceKind,
        /// The id of the device we lost.
        from: String,
        /// The id now in use.
        to: String,
        /// What happened to `from`.
        cause: DeviceChange,
    },
}

/// The microphone side of a backend: 20 ms frames of 48 kHz mono.
#[derive(Debug)]
#[non_exhaustive]
pub enum Source {
    /// A cpal device.
    System(Box<SystemInput>),
    /// A WAV file in memory, looped.
    Wav {
        /// All samples at 48 kHz.
        samples: Vec<i16>,
        /// Read position.
        pos: usize,
    },
    /// Silence.
    Null,
}

impl Source {
    /// Open the source `backend` names.
    pub fn open(backend: &AudioBackend) -> Result<Self, Error> {
        Ok(match backend {
            AudioBackend::System { input, .. } => Source::System(Box::new(SystemInput::open(input.as_deref())?)),
            AudioBackend::Wav { input, .. } => Source::Wav { samples: read_wav(input)?, pos: 0 },
            AudioBackend::Null => Source::Null,
        })
    }

    /// If the device in use failed, was unplugged or stopped being the
    /// default we follow, open the system default in its place and say so;
    /// the call goes on. Cheap when nothing happened (one atomic load): the
    /// engine calls it every tick. On an error the old device stays and the
    /// next call tries again.
    pub fn recover(&mut self) -> Result<Option<DeviceEvent>, Error> {
        let Source::System(dev) = self else { return Ok(None) };
        let Some(cause) = dev.change() else { return Ok(None) };
        let fresh = SystemInput::open(None)?;
        let from = std::mem::replace(&mut **dev, fresh).id().to_owned();
        Ok(Some(DeviceEvent::Reopened { direction: DeviceKind::Input, from, to: dev.id().to_owned(), cause }))
    }

    /// Fill `out` with the next frame. A device may not have a whole frame
    /// yet (returns false); files and null always do.
    pub fn read_frame(&mut self, out: &mut [i16]) -> bool {
        match self {
            Source::System(dev) => dev.read_frame(out),
            Source::Wav { samples, pos } => {
                if samples.is_empty() {
                    out.fill(0);
                    return true;
                }
                for s in out.iter_mut() {
                    *s = samples[*pos];
                    *pos = (*pos + 1) % samples.len();
                }
                true
            }
            Source::Null => {
                out.fill(0);
                true
            }
        }
    }
}

/// The speaker side of a backend.
#[non_exhaustive]
pub enum Sink {
    /// A cpal device.
    System(Box<SystemOutput>),
    /// A WAV file being written.
    Wav(hound::WavWriter<std::io::BufWriter<std::fs::File>>, PathBuf),
    /// Discard.
    Null,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::System(d) => f.debug_tuple("System").field(d).finish(),
            Sink::Wav(_, path) => f.debug_tuple("Wav").field(path).finish(),
            Sink::Null => f.write_str("Null"),
        }
    }
}

impl Sink {
    /// Open the sink `backend` names.
    pub fn open(backend: &AudioBackend) -> Result<Self, Error> {
        Ok(match backend {
            AudioBackend::System { output, .. } => Sink::System(Box::new(SystemOutput::open(output.as_deref())?)),
            AudioBackend::Wav { output, .. } => {
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: ENGINE_RATE,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let w = hound::WavWriter::create(output, spec).map_err(wav_err(output))?;
                Sink::Wav(w, output.clone())
            }
            AudioBackend::Null => Sink::Null,
        })
    }

    /// If the device in use failed, was unplugged or stopped being the
    /// default we follow, open the system default in its place and say so;
    /// the call goes on. As [`Source::recover`].
    pub fn recover(&mut self) -> Result<Option<DeviceEvent>, Error> {
        let Sink::System(dev) = self else { return Ok(None) };
        let Some(cause) = dev.change() else { return Ok(None) };
        let fresh = SystemOutput::open(None)?;
        let from = std::mem::replace(&mut **dev, fresh).id().to_owned();
        Ok(Some(DeviceEvent::Reopened { direction: DeviceKind::Output, from, to: dev.id().to_owned(), cause }))
    }

    /// Play (or write) one frame.
    pub fn write_frame(&mut self, frame: &[i16]) -> Result<(), Error> {
        match self {
            Sink::System(dev) => dev.write_frame(frame),
            Sink::Wav(w, path) => {
                for &s in frame {
                    w.write_sample(s).map_err(wav_err(path))?;
                }
            }
            Sink::Null => {}
        }
        Ok(())
    }

    /// Flush and close a file sink (devices and null need nothing).
    pub fn finish(self) -> Result<(), Error> {
        if let Sink::Wav(w, path) = self {
            w.finalize().map_err(wav_err(&path))?;
        }
        Ok(())
    }
}

fn wav_err(path: &Path) -> impl FnOnce(hound::Error) -> Error + '_ {
    move |e| Error::Wav { path: path.to_owned(), reason: e.to_string() }
}

/// Read a WAV file as 48 kHz mono (first channel), resampling if needed.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, Error> {
    decode_wav(hound::WavReader::open(path).map_err(wav_err(path))?, path)
}

/// [`read_wav`] for a file already in memory (the sounds built into the
/// crate); `name` is for error messages.
pub fn read_wav_bytes(bytes: &[u8], name: &Path) -> Result<Vec<i16>, Error> {
    decode_wav(hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(wav_err(name))?, name)
}

fn decode_wav<R: std::io::Read>(mut reader: hound::WavReader<R>, path: &Path) -> Result<Vec<i16>, Error> {
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let raw: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader.samples::<i16>().collect::<Result<_, _>>(),
        (hound::SampleFormat::Int, bits) => reader
            .samples::<i32>()
            .map(|s| s.map(|v| (v >> (bits.saturating_sub(16))) as i16))
            .collect::<Result<_, _>>(),
        (hound::SampleFormat::Float, _) => {
            reader.samples::<f32>().map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16)).collect()
        }
    }
    .map_err(wav_err(path))?;
    let mono: Vec<i16> = raw.iter().step_by(channels).copied().collect();
    let mut out = Vec::with_capacity(mono.len() * ENGINE_RATE as usize / spec.sample_rate.max(1) as usize + 64);
    Resampler::new(spec.sample_rate, ENGINE_RATE).process(&mono, &mut out);
    Ok(out)
}

/// Write 48 kHz mono samples to a WAV file (test fixtures, recordings).
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), Error> {
    let mut sink = Sink::open(&AudioBackend::Wav { input: PathBuf::new(), output: path.to_owned() })?;
    sink.write_frame(samples)?;
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::FRAME;
    use crate::tone::{ToneDetector, ToneGenerator};

    #[test]
    fn wav_round_trip_through_backends() {
        let dir = std::env::temp_dir().join(format!("warmline-media-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mic = dir.join("mic.wav");
        let heard = dir.join("heard.wav");
        write_wav(&mic, &ToneGenerator::new(48_000, 1000.0, 0.3).next_frame(48_000)).expect("write fixture");
        let backend = AudioBackend::Wav { input: mic, output: heard.clone() };
        let mut src = Source::open(&backend).expect("source");
        let mut sink = Sink::open(&backend).expect("sink");
        let mut frame = [0i16; FRAME];
        for _ in 0..60 {
            assert!(src.read_frame(&mut frame));
            sink.write_frame(&frame).expect("write");
        }
        sink.finish().expect("finish");
        let back = read_wav(&heard).expect("read back");
        assert_eq!(back.len(), 60 * FRAME);
        assert!(ToneDetector::new(48_000, 1000.0).share_detected(&back, FRAME) > 0.95);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn wav_at_8k_is_resampled_to_48k() {
        let path = std::env::temp_dir().join(format!("warmline-media-8k-{}.wav", std::process::id()));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for s in ToneGenerator::new(8_000, 500.0, 0.3).next_frame(8_000) {
            w.write_sample(s).expect("left");
            w.write_sample(0i16).expect("right");
        }
        w.finalize().expect("finalize");
        let got = read_wav(&path).expect("read");
        assert!(got.len().abs_diff(48_000) < 100, "{}", got.len());
        assert!(ToneDetector::new(48_000, 500.0).share_detected(&got[960..], 960) > 0.97);
        std::fs::remove_file(&path).expect("clean up");
    }

    #[test]
    fn null_backend_is_silent_and_missing_file_is_an_error() {
        let mut src = Source::open(&AudioBackend::Null).expect("null");
        let mut frame = [1i16; FRAME];
        assert!(src.read_frame(&mut frame));
        assert!(frame.iter().all(|&s| s == 0));
        let mut sink = Sink::open(&AudioBackend::Null).expect("null sink");
        sink.write_frame(&frame).expect("discard");
        assert_eq!(sink.recover().expect("nothing to recover"), None);
        assert_eq!(src.recover().expect("nothing to recover"), None);
        let missing = AudioBackend::Wav { input: "/nonexistent/x.wav".into(), output: "/tmp/y.wav".into() };
        assert!(matches!(Source::open(&missing), Err(Error::Wav { .. })));
    }
}
