//! Tauri commands, one module per feature. Each is a thin wrapper over
//! `warmline-agent`.

pub mod about;
pub mod agent;
