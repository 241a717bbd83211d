//! `warmline-cli agent`: the JSON-lines protocol (docs/cli-protocol.md)
//! over the agent session. Commands on stdin, events and replies on stdout,
//! one JSON object per line; logs go to stderr.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use warmline_agent::session::{AudioInput, AudioOutput};
use warmline_agent::{AgentCommand, CommandLine, Config, ErrorCode, Session, SessionConfig};

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

/// Runs the headless agent with `config_path` until `quit` or the end of stdin.
pub fn run(config_path: &Path, audio_in: &str, audio_out: Option<&Path>) -> ExitCode {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warmline-cli: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
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

async fn serve(config: Config, audio_in: AudioInput, audio_out: AudioOutput) -> ExitCode {
    let started = match SessionConfig::from_config_with_keyring(&config, audio_in, audio_out) {
        Ok(c) => Session::start(c).await,
        Err(e) => Err(e),
    };
    let (session, mut events) = match started {
        Ok(s) => s,
        Err(e) => {
            error_line(None, e.code(), &e.to_string());
            eprintln!("warmline-cli: {e}");
            return ExitCode::from(match e.code() {
                ErrorCode::NotAvailable => EXIT_NOT_AVAILABLE,
                ErrorCode::Config | ErrorCode::MissingSecret => EXIT_CONFIG,
                _ => 1,
            });
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
