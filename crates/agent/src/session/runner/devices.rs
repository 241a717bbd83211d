//! Audio devices: the lists, the choices (mid-call too), the test tones
//! and the settings screen's level meter.

use tokio::sync::mpsc;

use super::Runner;
use crate::session::audio::Control;
use crate::{AgentEvent, DeviceRole, Error};

/// The chosen audio devices (`default` follows the system).
#[derive(Debug, Clone)]
pub(super) struct ChosenDevices {
    input: String,
    output: String,
    ringer: String,
}

impl From<&crate::config::AudioConfig> for ChosenDevices {
    fn from(c: &crate::config::AudioConfig) -> Self {
        ChosenDevices { input: c.input.clone(), output: c.output.clone(), ringer: c.ringer.clone() }
    }
}

/// A configured device id: `default` follows the system.
fn device_id(id: &str) -> Option<String> {
    (id != "default").then(|| id.to_owned())
}

impl Runner {
    pub(super) fn emit_devices(&self) {
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
    pub(super) async fn choose_device(&mut self, role: DeviceRole, id: String) -> Result<(), Error> {
        let id = id.trim().to_owned();
        if id.is_empty() {
            return Err(Error::Invalid("a device id, or \"default\"".into()));
        }
        match role {
            DeviceRole::Input => {
                let _ = self.audio.send(Control::Input(device_id(&id))).await;
                self.devices.input = id;
            }
            DeviceRole::Output => {
                let _ = self.audio.send(Control::Output(device_id(&id))).await;
                self.devices.output = id;
            }
            DeviceRole::Ringer => self.devices.ringer = id,
        }
        self.emit_devices();
        Ok(())
    }

    pub(super) async fn test_tone(&mut self, role: DeviceRole) -> Result<(), Error> {
        match role {
            DeviceRole::Ringer => {
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

    pub(super) async fn meter(&mut self, on: bool) -> Result<(), Error> {
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
}
