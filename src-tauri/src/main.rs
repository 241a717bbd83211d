//! `warmline`: the agent desktop. All behaviour lives in `warmline-agent`;
//! this binary only starts the shell.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

fn main() {
    warmline_desktop::run();
}
