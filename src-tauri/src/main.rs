//! `warmline`: the agent desktop. All behaviour lives in `warmline-agent`;
//! this binary only starts the shell.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

#[global_allocator]
static ALLOCATOR: warmline_agent::allocator::Allocator = warmline_agent::allocator::ALLOCATOR;

fn main() {
    warmline_desktop::run();
}
