//! Events the shell pushes to the UI. The agent session's whole stream
//! travels as one Tauri event, `agent-update`, carrying an `AgentEvent`.

use serde::{Deserialize, Serialize};
use warmline_agent::AgentEvent;

/// One `AgentEvent`, as the Tauri event `agent-update`.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(transparent)]
pub struct AgentUpdate(pub AgentEvent);
