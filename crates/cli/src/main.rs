//! `warmline-cli`: the headless agent, the standalone lab, `sip lint` and
//! `doctor`. Each subcommand is a thin layer over a library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod agent;
mod doctor;
mod sip_lint;

/// Warmline from the command line.
#[derive(Debug, Parser)]
#[command(name = "warmline-cli", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The headless agent: JSON-lines commands on stdin, events on stdout.
    Agent(AgentArgs),
    /// The embedded contact center, standalone.
    Lab(LabArgs),
    /// SIP diagnostics for support engineers.
    #[command(subcommand)]
    Sip(SipCommand),
    /// Pre-flight check of configuration, keyring, audio, SBC, TURN and sign-in.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Backend {
    /// A warmline.toml pointing at a real SBC, tenant and CRM.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Start the embedded lab in-process and use it.
    #[arg(long)]
    lab: bool,
}

#[derive(Debug, Args)]
struct AgentArgs {
    #[command(flatten)]
    backend: Backend,
    /// What the agent says: `tone:HZ`, a WAV file, or `silence`.
    #[arg(long, value_name = "SOURCE", default_value = "silence")]
    audio_in: String,
    /// Where what the agent hears is written, as it plays (WAV).
    #[arg(long, value_name = "FILE.wav")]
    audio_out: Option<PathBuf>,
    /// Where the daily log files go (default: the app's log directory).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Log every SIP message (redacted), as `[logging] sip_trace = true` does.
    #[arg(long)]
    sip_trace: bool,
    /// With --lab: the lab scenario (default: the one in assets/).
    #[arg(long, value_name = "FILE", requires = "lab")]
    scenario: Option<PathBuf>,
    /// With --lab: sign in as this lab agent (extension or UPN; default the first).
    #[arg(long = "as", value_name = "AGENT", requires = "lab")]
    as_agent: Option<String>,
}

#[derive(Debug, Args)]
struct LabArgs {
    /// Scenario file (TOML); the default scenario ships in assets/.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum SipCommand {
    /// Parse each file as one raw SIP message; one JSON line per file.
    Lint {
        /// Files holding one SIP message each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Configuration to check (default: the platform's warmline.toml, or the lab).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// One JSON line per check instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit status for a subcommand this build does not have yet.
const EXIT_NOT_AVAILABLE: u8 = 69; // EX_UNAVAILABLE
/// Exit status for a bad configuration or scenario file.
const EXIT_CONFIG: u8 = 78; // EX_CONFIG

/// `warmline-cli lab`: the lab standalone, driven by JSON lines on stdin
/// (docs/lab.md).
fn lab(scenario: Option<&std::path::Path>) -> ExitCode {
    let scenario = match scenario {
        Some(path) => warmline_lab::Scenario::load(path),
        None => Ok(warmline_lab::Scenario::default_scenario()),
    };
    let scenario = match scenario {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warmline-cli: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warmline-cli: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let lab = match warmline_lab::Lab::start(scenario).await {
            Ok(lab) => lab,
            Err(e) => {
                eprintln!("warmline-cli: the lab did not start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        match lab.serve_lines(stdin, tokio::io::stdout()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("warmline-cli: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

#[global_allocator]
static ALLOCATOR: warmline_agent::allocator::Allocator = warmline_agent::allocator::ALLOCATOR;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Agent(args) => {
            let logs = agent::Logs { dir: args.log_dir.clone(), sip_trace: args.sip_trace };
            match &args.backend.config {
                Some(config) => agent::run(config, &args.audio_in, args.audio_out.as_deref(), &logs),
                None => agent::run_lab(
                    args.scenario.as_deref(),
                    args.as_agent.as_deref(),
                    &args.audio_in,
                    args.audio_out.as_deref(),
                    &logs,
                ),
            }
        }
        Command::Lab(args) => lab(args.scenario.as_deref()),
        Command::Sip(SipCommand::Lint { files }) => sip_lint::run(&files),
        Command::Doctor(args) => doctor::run(args.config.as_deref(), args.json),
    }
}
