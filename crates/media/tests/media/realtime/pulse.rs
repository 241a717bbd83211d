//! The test session's PulseAudio, seen from outside our code: `parec`
//! records a sink's monitor (and, since each read returns when 20 ms of real
//! audio have passed, paces a test), `paplay` plays into a sink, `pactl`
//! loads and unloads sinks to plug and unplug devices.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use warmline_media::device::FRAME;

pub fn require_session() {
    assert_eq!(
        std::env::var("WARMLINE_TEST_SESSION").as_deref(),
        Ok("1"),
        "run inside installer/test-session.sh: the real device path needs its PulseAudio null sinks"
    );
    let home_cookie = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config/pulse/cookie"));
    assert!(
        std::env::var_os("PULSE_COOKIE").is_some() || home_cookie.is_some_and(|c| c.exists()),
        "cpal's PulseAudio host needs the server's cookie: run inside installer/test-session.sh (it exports \
         PULSE_COOKIE) or export PULSE_COOKIE=$XDG_CONFIG_HOME/pulse/cookie"
    );
}

/// `parec` on a source, 48 kHz mono 16-bit, killed on drop.
pub struct Recorder(Child);

impl Recorder {
    pub fn start(source: &str) -> Self {
        let child = Command::new("parec")
            .args([&format!("--device={source}"), "--format=s16le", "--rate=48000", "--channels=1", "--raw"])
            .args(["--latency-msec=20"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("parec should start inside the test session");
        Self(child)
    }

    /// Blocks until the next 20 ms of recorded audio arrive.
    pub fn frame(&mut self) -> Vec<i16> {
        self.try_frame().expect("parec keeps recording")
    }

    fn try_frame(&mut self) -> Option<Vec<i16>> {
        let mut bytes = [0u8; FRAME * 2];
        self.0.stdout.as_mut()?.read_exact(&mut bytes).ok()?;
        Some(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
    }

    /// Records on a thread of its own into a channel, for async tests.
    pub fn spawn(source: &str) -> tokio::sync::mpsc::UnboundedReceiver<Vec<i16>> {
        let mut rec = Recorder::start(source);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            while let Some(frame) = rec.try_frame() {
                if tx.send(frame).is_err() {
                    return;
                }
            }
        });
        rx
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `pactl` and returns its output; a failure fails the test.
pub fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl").args(args).output().expect("pactl runs inside the test session");
    assert!(out.status.success(), "pactl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// An extra null sink (a device to unplug); unloaded on drop if still there.
pub struct NullSink {
    module: Option<String>,
}

impl NullSink {
    pub fn load(name: &str) -> Self {
        let module = pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
            "channels=2",
            &format!("sink_properties=device.description={name}"),
        ]);
        Self { module: Some(module) }
    }

    /// The device disappears, as a USB headset pulled out does.
    pub fn unload(&mut self) {
        if let Some(module) = self.module.take() {
            pactl(&["unload-module", &module]);
        }
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            let _ = Command::new("pactl").args(["unload-module", &module]).status();
        }
    }
}

/// `paplay` of a WAV file into a sink, stopped on drop.
pub struct Player(Child);

impl Player {
    pub fn start(sink: &str, wav: &Path) -> Self {
        Self(Command::new("paplay").arg(format!("--device={sink}")).arg(wav).spawn().expect("paplay"))
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
