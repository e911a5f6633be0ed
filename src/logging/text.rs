//! The text line format for output without colors.
//!
//! A line reads like tracing-subscriber's default format with colors off:
//! `2026-12-05T12:08:26.123101Z  INFO badge_request{request_id="r1"}:
//! badgegate::server::handler: answered outcome="found" ...`. The default
//! format runs its styling code even when colors are off, and formats each
//! line's date from scratch. This one writes the parts directly, and each
//! thread formats the date and time once per second. At `log.level = "info"`
//! every request writes a line, and this saved about 0.5 µs of a cache hit's
//! 12 µs of CPU in alternating benchmark runs.

use std::fmt::{self, Write};
use std::time::SystemTime;

use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::VisitOutput;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::fields::PlainVisitor;
use super::line::{build_line, write_timestamp};

/// Formats events as plain text lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainText;

impl<S, N> FormatEvent<S, N> for PlainText
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let sanitize = writer.sanitizes_ansi_escapes();
        build_line(writer, |line| write_line(line, ctx, event, sanitize))
    }
}

/// Writes one event's line. The event's fields are written by
/// [`PlainVisitor`], whatever field formatter the subscriber has, and span
/// fields as that formatter recorded them.
fn write_line<S, N>(
    line: &mut impl Write,
    ctx: &FmtContext<'_, S, N>,
    event: &Event<'_>,
    sanitize: bool,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    // Events from the `log` crate, such as actix's, carry their real
    // target and level in fields, and normalizing reads them back.
    let normalized = event.normalized_metadata();
    let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());

    write_timestamp(line, SystemTime::now())?;
    line.write_char(' ')?;
    line.write_str(level_label(metadata.level()))?;
    line.write_char(' ')?;
    if let Some(scope) = ctx.event_scope() {
        let mut any = false;
        for span in scope.from_root() {
            line.write_str(span.metadata().name())?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                if !fields.is_empty() {
                    line.write_char('{')?;
                    line.write_str(fields.as_str())?;
                    line.write_char('}')?;
                }
            }
            line.write_char(':')?;
            any = true;
        }
        if any {
            line.write_char(' ')?;
        }
    }
    line.write_str(metadata.target())?;
    line.write_str(": ")?;
    let mut fields = PlainVisitor::new(&mut *line, sanitize);
    event.record(&mut fields);
    fields.finish()?;
    line.write_char('\n')
}

/// Returns the level's name, right-aligned in five characters.
fn level_label(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        _ => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::super::captured::{Captured, ErrorWithSource};
    use super::super::fields::PlainFields;
    use super::*;

    /// Logs the same events, in spans with and without fields, at every level.
    fn log_sample_events() {
        tracing::info!("starting");
        let request = tracing::info_span!("badge_request", request_id = "r-1");
        let _request = request.enter();
        let source = tracing::info_span!("source", source = %"hubspot");
        let _source = source.enter();
        let empty = tracing::info_span!("empty");
        let _empty = empty.enter();
        tracing::info!(
            outcome = "found",
            number = %"***0123",
            latency_ms = 0.25,
            calls = 2u64,
            "answered"
        );
        tracing::warn!(
            reason = "bad_request",
            "rejected a request: {}",
            "quoted \"text\""
        );
        tracing::error!(status = 401, "source lookup failed");

        // Names, values and a message that need escaping, and an error with a source.
        let error = ErrorWithSource {
            message: "the call failed",
            source: std::io::Error::other("connection reset"),
        };
        tracing::warn!(
            r#type = "search",
            detail = "with \"quotes\", a tab\tand ünïcode",
            urls = ?["https://a.example/x", "https://b.example/y"],
            ok = false,
            delta = -3i64,
            error = &error as &(dyn std::error::Error + 'static),
            "control characters \x1b[31m\x07 and \u{9b} in a message"
        );
        tracing::info!(message = "a message given as a field", after = 1u8);

        tracing::debug!("a debug line");
        tracing::trace!(field = true, "a trace line");
    }

    fn captured_with(format: impl FnOnce(Captured) -> tracing::Dispatch) -> Vec<String> {
        Captured::lines_logged(format, log_sample_events)
    }

    /// Drops the timestamp, which differs between the two runs.
    fn without_timestamp(line: &str) -> &str {
        line.split_once(' ').map_or(line, |(_, rest)| rest)
    }

    #[test]
    fn lines_match_default_format_without_colors() {
        let ours = captured_with(|writer| {
            tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .with_ansi(false)
                .with_writer(writer)
                .event_format(PlainText)
                .fmt_fields(PlainFields)
                .into()
        });
        let default = captured_with(|writer| {
            tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .with_ansi(false)
                .with_writer(writer)
                .into()
        });
        assert_eq!(ours.len(), 8, "{ours:#?}");
        let ours: Vec<&str> = ours.iter().map(|line| without_timestamp(line)).collect();
        let default: Vec<&str> = default.iter().map(|line| without_timestamp(line)).collect();
        assert_eq!(ours, default);
        assert!(
            ours[1].starts_with(
                " INFO badge_request{request_id=\"r-1\"}:source{source=hubspot}:empty: "
            ),
            "{}",
            ours[1]
        );
        let awkward = ours[4];
        for part in [
            "control characters \\x1b[31m\\x07 and \\u{9b} in a message",
            "type=\"search\"",
            "detail=\"with \\\"quotes\\\", a tab\\tand ünïcode\"",
            "error=the call failed error.sources=[connection reset]",
        ] {
            assert!(awkward.contains(part), "{part} not in {awkward}");
        }
    }

    #[test]
    fn log_crate_event_keeps_target() {
        let captured = Captured::default();
        let dispatch: tracing::Dispatch = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(captured.clone())
            .event_format(PlainText)
            .into();
        tracing::dispatcher::with_default(&dispatch, || {
            let record = log::Record::builder()
                .args(format_args!("starting 2 workers"))
                .level(log::Level::Info)
                .target("actix_server::builder")
                .build();
            tracing_log::format_trace(&record).unwrap();
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            without_timestamp(&lines[0])
                .starts_with(" INFO actix_server::builder: starting 2 workers"),
            "{}",
            lines[0]
        );
    }
}
