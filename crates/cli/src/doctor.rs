//! `warmline-cli doctor`: a verdict per item, for the admin on the phone
//! with support.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use warmline_agent::Config;
use warmline_secrets::Keyring;

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
    let loaded = match config {
        None => {
            out.push(Check {
                item: "configuration",
                verdict: Verdict::Pass,
                detail: "no configuration file: the embedded lab will be used".into(),
            });
            None
        }
        Some(p) => match Config::load(p) {
            Ok(c) => {
                out.push(Check {
                    item: "configuration",
                    verdict: Verdict::Pass,
                    detail: format!(
                        "{} is valid ({} SBC URL(s), user {})",
                        p.display(),
                        c.sip.servers.len(),
                        c.sip.user
                    ),
                });
                Some(c)
            }
            Err(e) => {
                out.push(Check { item: "configuration", verdict: Verdict::Fail, detail: e.to_string() });
                None
            }
        },
    };
    let k = warmline_secrets::health();
    out.push(Check {
        item: "keyring",
        verdict: if k.usable { Verdict::Pass } else { Verdict::Fail },
        detail: k.detail,
    });
    if let (Some(c), true) = (&loaded, k.usable) {
        out.push(secrets_check(c));
    }
    for item in ["audio devices", "SBC reachability", "TURN", "Microsoft 365 sign-in"] {
        out.push(Check { item, verdict: Verdict::Warn, detail: "not checked yet by this build".into() });
    }
    out
}

/// Whether every keyring entry the configuration names is present (values
/// are never printed).
fn secrets_check(config: &Config) -> Check {
    let keyring = match Keyring::open() {
        Ok(k) => k,
        Err(e) => return Check { item: "credentials", verdict: Verdict::Fail, detail: e.to_string() },
    };
    let mut missing = Vec::new();
    for name in config.secret_names() {
        match keyring.get(&name) {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(name.user()),
            Err(e) => return Check { item: "credentials", verdict: Verdict::Fail, detail: e.to_string() },
        }
    }
    if missing.is_empty() {
        Check {
            item: "credentials",
            verdict: Verdict::Pass,
            detail: "every keyring entry the configuration needs is present".into(),
        }
    } else {
        Check {
            item: "credentials",
            verdict: Verdict::Fail,
            detail: format!("missing from the keyring (service \"warmline\"): {}", missing.join(", ")),
        }
    }
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
