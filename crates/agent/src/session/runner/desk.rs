//! The agent's own state, wrap-up and dispositions (`control::desk`
//! decides), notes, the screen pop's CRM answer, and the connection
//! settings screen.

use super::super::records::Lookup;
use super::{Later, Runner, call_name};
use crate::commands::Password;
use crate::control::desk::DeskRefusal;
use crate::{AgentEvent, AgentState, ChosenState, Error};

impl Runner {
    pub(super) fn choose_state(&mut self, state: ChosenState, reason: Option<String>) -> Result<(), Error> {
        let state = match state {
            ChosenState::Available => AgentState::Available,
            ChosenState::Away => AgentState::Away { reason: reason.unwrap_or_default() },
            ChosenState::Offline => AgentState::Offline,
        };
        self.desk.choose(state).map_err(desk_refused)?;
        self.show_state();
        Ok(())
    }

    /// Records a disposition on the call in wrap-up (or the last call)
    /// the moment it is chosen; `finish` ends wrap-up too. The store
    /// writes it off this task; the reply waits for it.
    pub(super) fn disposition(&mut self, disposition: &str, finish: bool) -> Result<Later, Error> {
        let code = disposition.trim();
        if !self.config.agent.dispositions.iter().any(|(c, _)| c == code) {
            let known: Vec<&str> = self.config.agent.dispositions.iter().map(|(c, _)| c.as_str()).collect();
            return Err(Error::Invalid(format!("unknown disposition {code:?}; use one of {}", known.join(", "))));
        }
        let uid = self.desk.disposition(code, finish).map_err(desk_refused)?;
        let stored = self.records.disposition(&uid, code);
        self.show_state();
        Ok(Box::pin(stored.answer()))
    }

    /// Saves a note on the named call, the one live call, the call in
    /// wrap-up or the last call, in that order. The reply and the
    /// `note_saved` event follow once the store has it.
    pub(super) fn note(&mut self, text: &str, note: Option<&str>, call: Option<&str>) -> Result<Later, Error> {
        let (uid, customer, name) = match call {
            Some(name) => {
                let id = self.pick(Some(name), |_| true, "")?;
                let c = &self.calls[&id];
                (Some(c.uid.clone()), Some(c.party.clone()), Some(call_name(id)))
            }
            None => match self.calls.iter().find(|(_, c)| c.phase.connected() && !c.party.is_empty()) {
                Some((id, c)) => (Some(c.uid.clone()), Some(c.party.clone()), Some(call_name(*id))),
                None => {
                    let uid = self.desk.call_for_notes().map(str::to_owned);
                    (uid.clone(), None, uid)
                }
            },
        };
        let stored = self.records.save_note(note, text, uid.as_deref(), customer.as_deref());
        let events = self.events.clone();
        Ok(Box::pin(async move {
            let note = stored.answer().await?;
            let _ = events.send(AgentEvent::NoteSaved {
                note,
                call: name,
                sync: crate::NoteSync::SavedLocally,
                reason: None,
            });
            Ok(())
        }))
    }

    /// The history matching `query`, read after every write before it.
    pub(super) fn history(&mut self, query: String) -> Later {
        let stored = self.records.history(&query);
        let events = self.events.clone();
        Box::pin(async move {
            let calls = stored.answer().await?;
            let _ = events.send(AgentEvent::History { query, calls });
            Ok(())
        })
    }

    /// The CRM answered a screen-pop lookup.
    pub(super) fn looked_up(&mut self, lookup: Lookup) {
        let Some((id, c)) = self.calls.iter().find(|(id, _)| call_name(**id) == lookup.call) else { return };
        if let Some(why) = &lookup.failed {
            tracing::info!("{}: CRM lookup failed: {why}", call_name(*id));
        }
        let customer = self.records.looked_up(&c.party, lookup.customer, c.queue.clone(), c.case.clone());
        self.emit(AgentEvent::Context { call: lookup.call, customer });
    }

    /// The file the settings screen edits.
    fn connection_file(&self) -> Result<std::path::PathBuf, Error> {
        self.config
            .config_file
            .clone()
            .or_else(crate::connection::user_file)
            .ok_or_else(|| Error::Config("no configuration directory for this user".into()))
    }

    pub(super) async fn show_connection(&mut self) -> Result<(), Error> {
        let file = self.connection_file()?;
        let view = tokio::task::spawn_blocking(move || crate::connection::view(&file))
            .await
            .map_err(|e| Error::Config(e.to_string()))??;
        self.emit(AgentEvent::Connection { connection: view });
        Ok(())
    }

    pub(super) async fn configure(
        &mut self,
        settings: crate::connection::ConnectionSettings,
        password: Option<Password>,
    ) -> Result<(), Error> {
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
}

fn desk_refused(r: DeskRefusal) -> Error {
    match r {
        DeskRefusal::DispositionRequired => Error::DispositionRequired,
        DeskRefusal::NothingToWrapUp => Error::NoCall("no call to wrap up".into()),
    }
}
