//! `warmline-cli sip lint FILE...`: for support engineers reading SBC traces.
//! Each file is one raw SIP message; each gets one JSON line saying whether
//! Warmline would accept it and, if not, why.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

/// Exit status when some file could not be read.
const EXIT_NO_INPUT: u8 = 66; // EX_NOINPUT

#[derive(Debug, Serialize)]
struct Verdict {
    file: String,
    ok: bool,
    error: Option<String>,
}

fn lint(path: &PathBuf) -> (Verdict, bool) {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => {
            let error = warmline_sip::parse(&bytes).err().map(|e| e.to_string());
            (Verdict { file, ok: error.is_none(), error }, true)
        }
        Err(e) => (Verdict { file, ok: false, error: Some(format!("cannot read the file: {e}")) }, false),
    }
}

/// Lints every file, printing one JSON line each; exits 0 when every file
/// could be read, whatever the verdicts (a malformed message is a finding,
/// not a failure of the tool).
pub fn run(files: &[PathBuf]) -> ExitCode {
    let mut all_read = true;
    for path in files {
        let (verdict, read) = lint(path);
        all_read &= read;
        match serde_json::to_string(&verdict) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("warmline-cli: {e}");
                all_read = false;
            }
        }
    }
    if all_read { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NO_INPUT) }
}
