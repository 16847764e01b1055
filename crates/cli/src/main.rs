//! The `switchboard` binary: a thin shell over the library crates.
//!
//! - `switchboard serve [--config FILE] [--print-config]`: run the service.
//! - `switchboard demo`: run the service on a temporary database, create a
//!   team and two agents, post the project's Meta fixture payloads signed with
//!   a demo secret, and print the resulting queue.
//! - `switchboard triage [--rules FILE] [FILE]`: triage messages (JSON Lines
//!   or plain lines) and print one JSON result per line.
//! - `switchboard train --data FILE --out MODEL`: train an intent model.
//! - `switchboard eval --data FILE --mapping FILE`: measure triage on
//!   labelled data (table, JSON or HTML).
//! - `switchboard speed [--model FILE] --data FILE [--passes N]`: time an
//!   intent model's single-message predictions here (JSON).
//! - `switchboard report [--from DATE] [--to DATE] [--by DIMENSION]
//!   [--format table|csv|json|html]`: KPIs from the service's database.
//! - `switchboard sample --week W --per-intent N`: a stratified sample of a
//!   week's conversations for quality review, phone numbers masked.
//! - `switchboard replay FILE [--compare OTHER_RULES]`: past conversations
//!   through triage, routing and SLA in simulated time, with launch gates.
#![forbid(unsafe_code)]

mod data;
mod demo;
mod eval;
mod replay;
mod report;
mod sample;
mod speed;
mod train;
mod triage_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard_server::AnyApp;
use switchboard_server::config::Config;

/// Switchboard: triage, assignment and SLA clocks for WhatsApp Business conversations.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (SQLite file `switchboard.db` and 127.0.0.1:8080 by default).
    Serve {
        /// TOML configuration file (see switchboard.example.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the effective configuration (secrets redacted) and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Run a self-contained demo on a temporary database and print the queue.
    Demo {
        /// Directory holding the Meta fixture payloads to post.
        #[arg(
            long,
            value_name = "DIR",
            default_value = "crates/whatsapp/tests/fixtures"
        )]
        fixtures: PathBuf,
    },
    /// Triage messages (JSON Lines or plain text lines, from FILE or stdin).
    Triage(triage_cmd::TriageArgs),
    /// Train an intent model from labelled messages.
    Train(train::TrainArgs),
    /// Measure triage on labelled messages.
    Eval(eval::EvalArgs),
    /// Time an intent model's single-message predictions on this machine.
    Speed(speed::SpeedArgs),
    /// KPIs from the service's database (definitions in KPIS.md).
    Report(report::ReportArgs),
    /// Replay past conversations through triage, routing and SLA before go-live.
    Replay(replay::ReplayArgs),
    /// Export a stratified random sample of a week's conversations for review.
    Sample(sample::SampleArgs),
}

/// Writes a command's rendered output to `out` (`--out FILE`) or, without
/// it, to standard output. Errors name the file.
fn emit(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The data tools are synchronous and need no runtime.
    let offline = match &cli.command {
        Command::Triage(args) => Some(triage_cmd::run(args)),
        Command::Train(args) => Some(train::run(args)),
        Command::Eval(args) => Some(eval::run(args)),
        Command::Speed(args) => Some(speed::run(args)),
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                config,
                print_config,
            } => serve(config, print_config).await,
            Command::Demo { fixtures } => demo::run(&fixtures).await,
            Command::Report(args) => report::run(&args).await,
            Command::Replay(args) => replay::run(&args).await,
            Command::Sample(args) => sample::run(&args).await,
            Command::Triage(_) | Command::Train(_) | Command::Eval(_) | Command::Speed(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Option<PathBuf>, print_config: bool) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    if print_config {
        print!("{}", config.to_redacted_toml());
        return Ok(());
    }
    let app = AnyApp::build_default(config).await?;
    tracing::info!(addr = %app.addr()?, "switchboard listening");
    app.run_until(switchboard_server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
