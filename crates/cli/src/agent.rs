//! `warmline-cli agent`: the JSON-lines protocol (docs/cli-protocol.md)
//! over the agent session. Commands on stdin, events and replies on stdout,
//! one JSON object per line; logs go to stderr.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use warmline_agent::session::{AudioInput, AudioOutput};
use warmline_agent::{AgentCommand, CommandLine, Config, Error, ErrorCode, Session, SessionConfig};
use warmline_lab::Lab;

use crate::{EXIT_CONFIG, EXIT_NOT_AVAILABLE};

/// Writes one line to stdout at once, so events and replies never interleave.
fn line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn error_line(id: Option<&Value>, code: ErrorCode, message: &str) {
    let mut v = json!({"event": "error", "code": code, "message": message});
    if let Some(id) = id {
        v["id"] = id.clone();
    }
    line(&v);
}

/// Where the headless agent logs.
#[derive(Debug, Clone)]
pub struct Logs {
    /// The directory (default: the app's log directory).
    pub dir: Option<std::path::PathBuf>,
    /// Trace every SIP message (redacted).
    pub sip_trace: bool,
}

fn start_logging(logs: &Logs, level: &str) {
    let settings = warmline_agent::logging::LogSettings {
        dir: logs.dir.clone().or_else(warmline_agent::logging::default_dir),
        level: level.to_owned(),
        stderr: false,
    };
    if let Err(e) = warmline_agent::logging::init(&settings) {
        eprintln!("warmline-cli: logs cannot be written: {e}");
    }
}

/// Runs the headless agent with `config_path` until `quit` or the end of stdin.
pub fn run(config_path: &Path, audio_in: &str, audio_out: Option<&Path>, logs: &Logs) -> ExitCode {
    let mut config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warmline-cli: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    config.logging.sip_trace |= logs.sip_trace;
    start_logging(logs, &config.logging.level);
    let audio_in = match AudioInput::parse(audio_in) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warmline-cli: --audio-in {e}");
            return ExitCode::from(2);
        }
    };
    let audio_out = audio_out.map_or(AudioOutput::Discard, |p| AudioOutput::Wav(p.to_owned()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warmline-cli: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, audio_in, audio_out))
}

/// Runs the headless agent against the embedded lab, started in-process.
/// Lines `{"lab": {...}}` go to the lab (docs/lab.md) and its events come
/// out as `{"event": "lab", "lab": {...}}`, so one script drives both sides.
pub fn run_lab(
    scenario: Option<&Path>,
    who: Option<&str>,
    audio_in: &str,
    audio_out: Option<&Path>,
    logs: &Logs,
) -> ExitCode {
    start_logging(logs, "info");
    let audio_in = match AudioInput::parse(audio_in) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warmline-cli: --audio-in {e}");
            return ExitCode::from(2);
        }
    };
    let audio_out = audio_out.map_or(AudioOutput::Discard, |p| AudioOutput::Wav(p.to_owned()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warmline-cli: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // The lab and the agent, composed here: the lab writes the agent's
        // configuration and hands over its secrets, as an admin would.
        let composed = async {
            let lab = Lab::start_from(scenario).await.map_err(|e| Error::Config(format!("the embedded lab: {e}")))?;
            let sign_in = lab.agent_sign_in(who).map_err(|e| Error::Config(format!("the lab's agent: {e}")))?;
            let (_, session) = warmline_agent::embedded::lab_session(
                &sign_in.config,
                sign_in.password,
                &sign_in.crm_token,
                audio_in,
                audio_out,
            )?;
            Ok::<_, Error>((lab, session))
        };
        let (lab, mut session) = match composed.await {
            Ok(c) => c,
            Err(e) => {
                error_line(None, e.code(), &e.to_string());
                eprintln!("warmline-cli: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        session.transport.trace = logs.sip_trace;
        match lab_store() {
            Ok(store) => session.store = Some(store),
            Err(e) => {
                error_line(None, e.code(), &e.to_string());
                eprintln!("warmline-cli: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
        let mut ready = lab.ready_event();
        if let Some(o) = ready.as_object_mut() {
            o.remove("crm_token");
        }
        line(&json!({"event": "lab", "lab": ready}));
        let control = lab.control();
        let mut lab_events = control.subscribe();
        let forward = tokio::spawn(async move {
            while let Ok(e) = lab_events.recv().await {
                if let Ok(v) = serde_json::to_value(&e) {
                    line(&json!({"event": "lab", "lab": v}));
                }
            }
        });
        let code = serve_session(session, Some(control)).await;
        forward.abort();
        drop(lab);
        code
    })
}

/// The lab's history and notes live beside the real ones, in their own
/// encrypted file, so trying the lab never mixes with production data.
fn lab_store() -> Result<warmline_agent::session::StoreSetup, warmline_agent::Error> {
    let store_err = |e: warmline_store::Error| warmline_agent::Error::Store(e.to_string());
    let real = warmline_store::default_path().map_err(store_err)?;
    let path = real.with_file_name("warmline-lab.db");
    let keyring = warmline_secrets::Keyring::open()?;
    let key = warmline_store::database_key(&keyring, &path).map_err(store_err)?;
    Ok(warmline_agent::session::StoreSetup { path, encryption: warmline_store::Encryption::Key(key) })
}

async fn serve(config: Config, audio_in: AudioInput, audio_out: AudioOutput) -> ExitCode {
    match SessionConfig::from_config_with_keyring(&config, audio_in, audio_out) {
        Ok(c) => serve_session(c, None).await,
        Err(e) => {
            error_line(None, e.code(), &e.to_string());
            eprintln!("warmline-cli: {e}");
            exit_code(e.code())
        }
    }
}

fn exit_code(code: ErrorCode) -> ExitCode {
    ExitCode::from(match code {
        ErrorCode::NotAvailable => EXIT_NOT_AVAILABLE,
        ErrorCode::Config | ErrorCode::MissingSecret => EXIT_CONFIG,
        _ => 1,
    })
}

async fn serve_session(config: SessionConfig, lab: Option<warmline_lab::Control>) -> ExitCode {
    let started = Session::start(config).await;
    let (session, mut events) = match started {
        Ok(s) => s,
        Err(e) => {
            error_line(None, e.code(), &e.to_string());
            eprintln!("warmline-cli: {e}");
            return exit_code(e.code());
        }
    };
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match serde_json::to_value(&event) {
                Ok(v) => line(&v),
                Err(e) => eprintln!("warmline-cli: an event could not be written: {e}"),
            }
        }
    });
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let text = match stdin.next_line().await {
            Ok(Some(t)) => t,
            // The end of stdin is a quit: un-REGISTER rather than vanish.
            Ok(None) | Err(_) => {
                let _ = session.command(AgentCommand::Quit).await;
                break;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        if let Some(control) = &lab
            && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&text)
            && let Some(inner) = o.get("lab")
        {
            let reply = control.execute_line(&inner.to_string());
            let reply: Value = serde_json::from_str(&reply).unwrap_or(Value::String(reply));
            line(&json!({"event": "lab", "lab": reply}));
            continue;
        }
        let parsed: CommandLine = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                let id = serde_json::from_str::<Value>(&text).ok().and_then(|v| v.get("id").cloned());
                error_line(id.as_ref(), ErrorCode::InvalidCommand, &format!("not a command: {e}"));
                continue;
            }
        };
        let quit = parsed.command == AgentCommand::Quit;
        match session.command(parsed.command).await {
            Ok(()) => {
                let mut v = json!({"event": "ok"});
                if let Some(id) = parsed.id {
                    v["id"] = id;
                }
                line(&v);
            }
            Err(e) => error_line(parsed.id.as_ref(), e.code(), &e.to_string()),
        }
        if quit {
            break;
        }
    }
    let _ = printer.await;
    ExitCode::SUCCESS
}
