//! The shell's one piece of state: the agent session (once it has
//! started) and the folded event stream for windows that attach late.

use std::sync::Mutex;

use tokio::sync::OnceCell;
use warmline_agent::{AgentCommand, AgentEvent, ErrorCode, ErrorPayload, Session, Snapshot};

/// Managed by Tauri; commands reach the session through it.
#[derive(Debug)]
pub struct Shell {
    /// When the process started, for the start-up time `make bench` reads.
    started: std::time::Instant,
    /// Whether the window has asked for the snapshot yet (it does on mount).
    attached: std::sync::atomic::AtomicBool,
    /// Signalled (once) when the window first asks for the snapshot.
    window_up: tokio::sync::Notify,
    session: OnceCell<Session>,
    snapshot: Mutex<Snapshot>,
    /// Why the session could not start, when it could not.
    failed: Mutex<Option<ErrorPayload>>,
}

impl Shell {
    /// A shell for a process that started at `started`.
    pub fn new(started: std::time::Instant) -> Self {
        Shell {
            started,
            attached: std::sync::atomic::AtomicBool::new(false),
            window_up: tokio::sync::Notify::new(),
            session: OnceCell::new(),
            snapshot: Mutex::default(),
            failed: Mutex::default(),
        }
    }

    /// Logs how long after the process started a step of start-up ended:
    /// what `make bench`'s cold-start figure is made of.
    pub fn mark(&self, step: &str) {
        tracing::info!("start-up: {step} after {} ms", self.started.elapsed().as_millis());
    }

    /// Resolves once the window's UI is up (it has asked for the snapshot).
    pub async fn window_attached(&self) {
        if !self.attached.load(std::sync::atomic::Ordering::Relaxed) {
            self.window_up.notified().await;
        }
    }

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

    /// The events that rebuild the current state. The first call is the
    /// window's, once its UI is up: the start-up time is logged then.
    pub fn snapshot(&self) -> Vec<AgentEvent> {
        if !self.attached.swap(true, std::sync::atomic::Ordering::Relaxed) {
            eprintln!("warmline: window ready {} ms after start", self.started.elapsed().as_millis());
            self.window_up.notify_one();
        }
        let mut events = self.snapshot.lock().map(|s| s.events()).unwrap_or_default();
        if let Ok(f) = self.failed.lock()
            && let Some(e) = f.clone()
        {
            events.push(AgentEvent::Error(e));
        }
        events
    }

    /// Whether a call rings, whether another is up, and whether the
    /// microphone is muted: what the global shortcuts act on.
    pub fn call_state(&self) -> (bool, bool, bool) {
        self.snapshot.lock().map(|s| (s.ringing(), s.talking(), s.muted())).unwrap_or_default()
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
