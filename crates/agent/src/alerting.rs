//! How an incoming call gets the agent's attention outside the window: the
//! ringtone on the ringer device while a call rings here (a call-waiting
//! beep instead while the agent is already talking), and the text of an OS
//! notification. Fed the session's events by the desktop shell.

use std::collections::BTreeSet;

use warmline_media::sounds::{Ringer, Sound};

use crate::{AgentEvent, CallId, CallState};

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The headline.
    pub title: String,
    /// The details (caller, queue, case), as plain text.
    pub body: String,
}

/// Rings while a call rings here.
#[derive(Debug)]
pub struct Alerting {
    device: Option<String>,
    ringing: BTreeSet<CallId>,
    talking: BTreeSet<CallId>,
    ringer: Option<Ringer>,
    spanish: bool,
}

impl Alerting {
    /// Rings on `device` (`None`: the default output). The notification's
    /// language follows the system's (`LANG`).
    pub fn new(device: Option<String>) -> Self {
        let lang = std::env::var("LC_ALL").or_else(|_| std::env::var("LANG")).unwrap_or_default();
        Alerting {
            device,
            ringing: BTreeSet::new(),
            talking: BTreeSet::new(),
            ringer: None,
            spanish: lang.starts_with("es"),
        }
    }

    /// Whether the ringtone is playing now.
    pub fn is_ringing(&self) -> bool {
        self.ringer.is_some()
    }

    /// Follows one event; returns a notification to show, if it calls for one.
    pub fn on_event(&mut self, event: &AgentEvent) -> Option<Notice> {
        let notice = match event {
            AgentEvent::Incoming { call, from, display_name, queue, case } => {
                self.ringing.insert(call.clone());
                let who = match display_name {
                    Some(n) if !n.trim().is_empty() => format!("{n} ({from})"),
                    _ => from.clone(),
                };
                let mut body = who;
                if let Some(q) = queue {
                    body.push_str(if self.spanish { "\nCola: " } else { "\nQueue: " });
                    body.push_str(q);
                }
                if let Some(c) = case {
                    body.push_str(if self.spanish { "\nCaso: " } else { "\nCase: " });
                    body.push_str(c);
                }
                let title = if self.spanish { "Llamada entrante" } else { "Incoming call" };
                Some(Notice { title: title.into(), body })
            }
            AgentEvent::Call { call, state, .. } => {
                match state {
                    CallState::Ringing => {}
                    CallState::Ended { .. } => {
                        self.ringing.remove(call);
                        self.talking.remove(call);
                    }
                    _ => {
                        if self.ringing.remove(call) || matches!(state, CallState::Connected) {
                            self.talking.insert(call.clone());
                        }
                    }
                }
                None
            }
            AgentEvent::Devices { devices } => {
                self.device = (devices.ringer != "default").then(|| devices.ringer.clone());
                None
            }
            _ => None,
        };
        self.update();
        notice
    }

    /// Called on a timer while it rings: a ringer device that went away
    /// (unplugged) is replaced by the default output, and the ringtone goes
    /// on there. Returns what happened, for the log.
    pub fn tick(&mut self) -> Option<String> {
        let ringer = self.ringer.as_mut()?;
        match ringer.recover() {
            Ok(Some(event)) => Some(format!("the ringer moved: {event:?}")),
            Ok(None) => None,
            Err(e) => {
                // No output at all right now: stop, the next event tries again.
                self.ringer = None;
                Some(format!("the ringtone stopped: {e}"))
            }
        }
    }

    fn update(&mut self) {
        let want = !self.ringing.is_empty();
        if want && self.ringer.is_none() {
            let sound = if self.talking.is_empty() { Sound::Ringtone } else { Sound::CallWaiting };
            match Ringer::start(self.device.as_deref(), sound) {
                Ok(r) => self.ringer = Some(r),
                Err(e) => tracing::warn!("the ringtone cannot play: {e}"),
            }
        } else if !want {
            self.ringer = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incoming_call_gives_a_plain_text_notice_and_rings_until_answered() {
        let mut a = Alerting::new(None);
        a.spanish = false;
        let notice = a
            .on_event(&AgentEvent::Incoming {
                call: "c1".into(),
                from: "+442079460018".into(),
                display_name: Some("<b>Ada</b>".into()),
                queue: Some("billing".into()),
                case: Some("CASE-1".into()),
            })
            .expect("a notice");
        assert_eq!(notice.title, "Incoming call");
        assert_eq!(notice.body, "<b>Ada</b> (+442079460018)\nQueue: billing\nCase: CASE-1");
        assert!(a.ringing.contains("c1"));
        assert_eq!(a.on_event(&AgentEvent::call_state("c1", CallState::Connected)), None);
        assert!(a.ringing.is_empty());
        assert!(!a.is_ringing(), "answering stops the ringtone");
    }
}
