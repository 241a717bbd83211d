//! The shell's one piece of state: the agent session (once it has
//! started) and the folded event stream for windows that attach late.

use std::sync::Mutex;

use tokio::sync::OnceCell;
use warmline_agent::{AgentCommand, AgentEvent, ErrorCode, ErrorPayload, Session, Snapshot};

/// Managed by Tauri; commands reach the session through it.
#[derive(Debug, Default)]
pub struct Shell {
    session: OnceCell<Session>,
    snapshot: Mutex<Snapshot>,
    /// Why the session could not start, when it could not.
    failed: Mutex<Option<ErrorPayload>>,
}

impl Shell {
    /// Hands the started session over.
    pub fn started(&self, session: Session) {
        let _ = self.session.set(session);
    }

    /// Records why the session could not start.
    pub fn failed(&self, error: ErrorPayload) {
        if let Ok(mut f) = self.failed.lock() {
            *f = Some(error);
        }
    }

    /// Folds an event into the snapshot (before it goes to the window).
    pub fn observe(&self, event: &AgentEvent) {
        if let Ok(mut s) = self.snapshot.lock() {
            s.apply(event);
        }
    }

    /// The events that rebuild the current state.
    pub fn snapshot(&self) -> Vec<AgentEvent> {
        let mut events = self.snapshot.lock().map(|s| s.events()).unwrap_or_default();
        if let Ok(f) = self.failed.lock()
            && let Some(e) = f.clone()
        {
            events.push(AgentEvent::Error(e));
        }
        events
    }

    /// Runs a command on the session.
    pub async fn command(&self, command: AgentCommand) -> Result<(), ErrorPayload> {
        match self.session.get() {
            Some(session) => session.command(command).await.map_err(ErrorPayload::from),
            None => Err(self.failed.lock().ok().and_then(|f| f.clone()).unwrap_or(ErrorPayload {
                code: ErrorCode::SessionClosed,
                message: "the agent session is still starting".into(),
            })),
        }
    }
}
