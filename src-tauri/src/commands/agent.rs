//! The agent session over IPC: one command carries every `AgentCommand`,
//! and `agent_snapshot` gives a window that loads late the state so far.

use tauri::State;
use warmline_agent::{AgentCommand, AgentEvent, ErrorPayload};

use crate::shell::Shell;

/// Runs one agent command (answer, hold, transfer, note ...). Its effects
/// arrive as `agent-update` events.
#[tauri::command]
#[specta::specta]
pub async fn agent_command(shell: State<'_, Shell>, command: AgentCommand) -> Result<(), ErrorPayload> {
    shell.command(command).await
}

/// The events that rebuild the current state (registration, agent state,
/// live calls ...), for a window that starts listening after they happened.
#[tauri::command]
#[specta::specta]
pub async fn agent_snapshot(shell: State<'_, Shell>) -> Result<Vec<AgentEvent>, ErrorPayload> {
    Ok(shell.snapshot())
}
