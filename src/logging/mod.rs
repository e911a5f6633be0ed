//! Log output: text or JSON lines on standard error, with the level from
//! `log.level` unless `RUST_LOG` is set.
//!
//! Lines are formatted on the thread that logs and written by a logging
//! thread. That thread writes every waiting line in one batch, so a busy
//! gateway makes one write per batch rather than one per line. A request
//! waits for the logging thread only when its queue is full.

mod fields;
mod text;

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::WorkerGuard;

use tracing_subscriber::EnvFilter;

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

/// Maximum lines queued for the logging thread. A request that logs while
/// the queue is full blocks until there is room, so no line is dropped
/// while the gateway runs.
// NOTE: at exit, tracing-appender waits only about a second for the lines
// still queued. If whatever reads standard error has stopped reading, the
// rest are lost.
const WAITING_LINES: usize = 65_536;

/// Size of the logging thread's write buffer. The thread writes when it
/// is full and when no more lines are waiting, so a quiet gateway's lines
/// appear at once, and a busy one makes one write per this many bytes.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Installs the global subscriber. Call once, before anything logs, and keep
/// the guard until the process ends: dropping it writes the lines still
/// waiting.
#[must_use = "dropping the guard at once stops the logging thread"]
pub fn init(settings: &LogSettings) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(WAITING_LINES)
        .thread_name("badgegate-log")
        .finish(BufWriter::with_capacity(
            WRITE_BUFFER_BYTES,
            std::io::stderr(),
        ));
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| EnvFilter::new(directives(&settings.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match settings.format {
        // A terminal gets tracing-subscriber's format in color, unless
        // NO_COLOR is set. Other output gets the same lines without colors.
        LogFormat::Text if wants_color() => builder.with_ansi(true).init(),
        LogFormat::Text => builder
            .with_ansi(false)
            .event_format(text::PlainText)
            .fmt_fields(fields::PlainFields)
            .init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
    guard
}

/// Returns whether standard error is a terminal and `NO_COLOR` is unset or empty.
fn wants_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    std::io::stderr().is_terminal() && !no_color
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
