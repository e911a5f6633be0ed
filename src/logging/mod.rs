//! Log output: text or JSON lines on standard error, with the level from
//! `log.level` unless `RUST_LOG` is set.
//!
//! Lines are formatted on the thread that logs and written by a logging
//! thread (`writer`). That thread writes every waiting line in one batch, so
//! a busy gateway makes one write per batch rather than one per line. A
//! thread waits for the logging thread only when 8 MiB of its own lines
//! are waiting.

#[cfg(test)]
mod captured;
mod fields;
mod json;
mod line;
mod request_line;
mod text;
mod writer;

use std::io::{self, IsTerminal};
use std::sync::OnceLock;

use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::EnvFilter;

pub use request_line::AnsweredLine;
pub use writer::LogGuard;

use crate::config::{LogFormat, LogSettings};

/// Libraries that log request and connection internals at debug and trace.
/// A bare `debug` or `trace` level applies to badgegate's own crates, and
/// these stay at info, so that raising the level never logs a header.
const CHATTY_LIBRARIES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "rustls",
    "actix_http",
    "actix_server",
    "mio",
    "want",
];

/// The writer of the global subscriber, once installed.
static WRITER: OnceLock<writer::LineWriter> = OnceLock::new();

/// Lets every line from now on be queued even when standard error's reader
/// has fallen 8 MiB of a thread's lines behind, instead of blocking the
/// thread that logs. Call
/// when the gateway starts stopping, so that a stalled reader cannot keep it
/// from stopping.
pub fn stop_waiting_for_room() {
    if let Some(writer) = WRITER.get() {
        writer.stop_waiting_for_room();
    }
}

/// Installs the global subscriber. Call once, before anything logs, and keep
/// the guard until the process ends: dropping it writes the lines still
/// waiting. Fails only when the logging thread cannot be started.
pub fn init(settings: &LogSettings) -> io::Result<LogGuard> {
    let (writer, guard) = writer::spawn(io::stderr())?;
    // `init` runs once per process, so this is the only writer.
    let _ = WRITER.set(writer.clone());
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| EnvFilter::new(directives(&settings.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone());
    match settings.format {
        // A terminal gets tracing-subscriber's format in color, unless
        // NO_COLOR is set. Other output gets the same lines without colors.
        LogFormat::Text if wants_color() => builder.with_ansi(true).init(),
        LogFormat::Text => {
            builder
                .with_ansi(false)
                .event_format(text::PlainText)
                .fmt_fields(fields::PlainFields)
                .init();
            request_line::write_directly(request_line::LineFormat::Text, writer.clone());
        }
        LogFormat::Json => {
            builder
                .with_ansi(false)
                .fmt_fields(JsonFields::new())
                .event_format(json::JsonLines::default())
                .init();
            request_line::write_directly(request_line::LineFormat::Json, writer.clone());
        }
    }
    Ok(guard)
}

/// Returns whether standard error is a terminal and `NO_COLOR` is unset or empty.
fn wants_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    io::stderr().is_terminal() && !no_color
}

fn directives(level: &str) -> String {
    let level = level.trim();
    let is_verbose = matches!(level.to_ascii_lowercase().as_str(), "debug" | "trace");
    if !is_verbose {
        return level.to_string();
    }
    let mut directives = vec![level.to_string()];
    directives.extend(
        CHATTY_LIBRARIES
            .iter()
            .map(|library| format!("{library}=info")),
    );
    directives.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_levels_keep_libraries_at_info() {
        let directives = directives("trace");
        assert!(directives.starts_with("trace,"));
        assert!(directives.contains("h2=info"));
        assert!(directives.contains("hyper=info"));
    }

    #[test]
    fn other_levels_and_filters_pass_through() {
        assert_eq!(directives("warn"), "warn");
        assert_eq!(directives("info,badgegate=debug"), "info,badgegate=debug");
    }
}
