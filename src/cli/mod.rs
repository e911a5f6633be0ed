//! The command line: `serve` (the default), `check`, `lookup` and `sign`.

mod sign;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{self, ConfigProblem, Settings};
use crate::lookup::Lookup;
use crate::registry::Registry;
use crate::shared::{answer_generation, shared_tier};
use crate::{logging, server};

#[derive(Debug, Parser)]
#[command(
    name = "badgegate",
    version,
    about = "Answers JustCall contact badge requests from your CRMs, signed, cached and within a deadline"
)]
struct Cli {
    /// Config file to read.
    #[arg(
        long,
        global = true,
        env = "BADGEGATE_CONFIG",
        default_value = "gateway.toml",
        value_name = "PATH"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the JustCall endpoint on server.listen (the default command).
    Serve,
    /// Validate the config and build every source, then exit 0, or print every problem and exit 1.
    Check,
    /// Look one number up in-process and print the badge with a trace of the number's forms,
    /// the sources asked, their candidates and timings.
    Lookup {
        /// The caller's number in any format JustCall may send: 14155550123, +1 415 555 0123, 4155550123.
        number: String,
        /// Print the trace as one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a curl command that sends a correctly signed request for NUMBER to the gateway,
    /// signed with the first of justcall.secrets.
    Sign {
        /// The caller's number to put in the request body, e.g. 14155550123.
        number: String,
        /// The URL to sign and send to. Defaults to the first of justcall.public_urls,
        /// else http://{server.listen}{server.path}.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

/// Parses the command line and runs the command with the adapter types in
/// `registry`. This is the whole `badgegate` binary; a binary with its own
/// adapters calls it with a registry that has them too.
pub fn run(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli.config) {
        Ok(settings) => settings,
        Err(problems) => return report(&problems),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Declared before the runtime, so dropped after it: a task that logs
    // while the runtime shuts down still has its line written.
    let _log = if matches!(command, Command::Serve | Command::Lookup { .. }) {
        match logging::init(&settings.log) {
            Ok(guard) => Some(guard),
            Err(error) => {
                eprintln!("error: cannot start the logging thread: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Serve => runtime.block_on(serve(settings, &registry)),
        Command::Check => check(&settings, &registry),
        Command::Lookup { number, json } => {
            let lookup = match registry.build_sources(&settings) {
                Ok(sources) => {
                    let shared = shared_tier(&settings, &answer_generation(&settings, &sources));
                    Lookup::new(&settings, sources, shared)
                }
                Err(problems) => return report(&problems),
            };
            runtime.block_on(trace::run(&lookup, &number, json))
        }
        Command::Sign { number, url } => sign::run(&settings, &number, url.as_deref()),
    }
}

async fn serve(settings: Settings, registry: &Registry) -> ExitCode {
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let app = match App::new(settings, registry.clone()) {
        Ok(app) => app,
        Err(problems) => return report(&problems),
    };
    let runtime = app.current();
    let names: Vec<&str> = runtime
        .lookup
        .sources()
        .iter()
        .map(|source| source.name.as_str())
        .collect();
    tracing::info!(config = %runtime.settings.path.display(), sources = ?names, "configuration loaded");
    match server::serve(app).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The log line, or a plain line when logs are off: printing both
            // put the plain line first and broke output made of JSON lines.
            if tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!(%error, "the server failed");
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}

fn check(settings: &Settings, registry: &Registry) -> ExitCode {
    let sources = match registry.build_sources(settings) {
        Ok(sources) => sources,
        Err(problems) => return report(&problems),
    };
    for warning in &settings.warnings {
        eprintln!("warning: {warning}");
    }
    let names: Vec<String> = sources
        .iter()
        .map(|source| format!("{} ({})", source.name, source.kind))
        .collect();
    println!(
        "{}: valid; serving {} on {} from {}",
        settings.path.display(),
        settings.server.path,
        settings.server.listen,
        names.join(", ")
    );
    ExitCode::SUCCESS
}

/// Prints every config problem to standard error.
fn report(problems: &[ConfigProblem]) -> ExitCode {
    for problem in problems {
        eprintln!("error: {problem}");
    }
    let count = problems.len();
    eprintln!(
        "{count} problem{} in the config; fix {} and run `badgegate check` again",
        if count == 1 { "" } else { "s" },
        if count == 1 { "it" } else { "them" }
    );
    ExitCode::FAILURE
}
