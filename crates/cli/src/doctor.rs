//! `warmline-cli doctor`: a verdict per item, for the admin on the phone
//! with support.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Works.
    Pass,
    /// Works with a caveat, or was not checked.
    Warn,
    /// Does not work; calls or sign-in will fail.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub item: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// Why, in words.
    pub detail: String,
}

fn checks(config: Option<&Path>) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(match config {
        None => Check {
            item: "configuration",
            verdict: Verdict::Pass,
            detail: "no configuration file: the embedded lab will be used".into(),
        },
        Some(p) if p.is_file() => Check {
            item: "configuration",
            verdict: Verdict::Warn,
            detail: format!("{} exists; its contents are not checked by this build yet", p.display()),
        },
        Some(p) => Check {
            item: "configuration",
            verdict: Verdict::Fail,
            detail: format!("{} does not exist or is not a file", p.display()),
        },
    });
    let k = warmline_secrets::health();
    out.push(Check {
        item: "keyring",
        verdict: if k.usable { Verdict::Pass } else { Verdict::Fail },
        detail: k.detail,
    });
    for item in ["audio devices", "SBC reachability", "TURN", "Microsoft 365 sign-in"] {
        out.push(Check { item, verdict: Verdict::Warn, detail: "not checked yet by this build".into() });
    }
    out
}

/// Runs every check and prints the report; fails when any check fails.
pub fn run(config: Option<&Path>, json: bool) -> ExitCode {
    let report = checks(config);
    for c in &report {
        if json {
            println!("{}", serde_json::to_string(c).unwrap_or_default());
        } else {
            let mark = match c.verdict {
                Verdict::Pass => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
            };
            println!("[{mark}] {:<22} {}", c.item, c.detail);
        }
    }
    if report.iter().any(|c| c.verdict == Verdict::Fail) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
