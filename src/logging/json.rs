//! The JSON line format.
//!
//! A line is the one tracing-subscriber's JSON format writes with the event's
//! fields flattened and the span list on: `{"timestamp":...,"level":"INFO",
//! "message":"answered","request_id":"r1",...,"target":"badgegate::..."}`.
//! tracing-subscriber builds each line through serde with a `String` per
//! timestamp and per `Debug` field, and at `log.level = "info"` every request
//! writes a line. So an event outside any span, as every line at info is, is
//! written here directly into the thread's buffer. An event inside a span
//! goes to tracing-subscriber's formatter, which writes the span list.

use std::fmt::{self, Write};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::fields::write_f64;
use super::line::{build_line, write_timestamp};

/// Formats events as JSON lines.
#[derive(Debug)]
pub struct JsonLines {
    /// tracing-subscriber's format, for events inside a span.
    in_span: Format<Json>,
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines {
            in_span: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
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
        // The span tracing-subscriber's format would list, found as it finds it.
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if span.is_some() {
            return self.in_span.format_event(ctx, writer, event);
        }
        build_line(writer, |line| write_line(line, event))
    }
}

/// Writes one line for an event outside any span.
fn write_line(line: &mut impl Write, event: &Event<'_>) -> fmt::Result {
    // Events from the `log` crate, such as actix's, carry their real
    // target and level in fields, and normalizing reads them back.
    let normalized = event.normalized_metadata();
    let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());

    line.write_str("{\"timestamp\":\"")?;
    write_timestamp(line, SystemTime::now())?;
    line.write_str("\",\"level\":\"")?;
    line.write_str(metadata.level().as_str())?;
    line.write_char('"')?;
    let mut fields = JsonVisitor {
        line: &mut *line,
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    line.write_str(",\"target\":")?;
    write_string(line, metadata.target())?;
    line.write_str("}\n")
}

/// Writes each field as `,"name":value`, with the value's JSON type as
/// tracing-subscriber gives it: numbers and booleans as they are, a
/// `Debug` value as the string it formats to.
struct JsonVisitor<'a, W> {
    line: &'a mut W,
    result: fmt::Result,
}

impl<W: Write> JsonVisitor<'_, W> {
    fn write_field(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = self
            .line
            .write_char(',')
            .and_then(|()| write_string(self.line, field.name()))
            .and_then(|()| self.line.write_char(':'))
            .and_then(|()| value(self.line));
    }
}

impl<W: Write> Visit for JsonVisitor<'_, W> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write_field(field, |line| {
            line.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write_field(field, |line| write!(line, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write_field(field, |line| write!(line, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.write_field(field, |line| write_number(line, value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.write_field(field, |line| write_string(line, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write_field(field, |line| {
            line.write_char('"')?;
            write!(EscapeJson(line), "{value:?}")?;
            line.write_char('"')
        });
    }
}

/// Writes `value` as serde_json does: `null` when it is not finite.
pub(super) fn write_number(line: &mut impl Write, value: f64) -> fmt::Result {
    if !value.is_finite() {
        return line.write_str("null");
    }
    // `{:?}` and serde_json write the same digits for the values that
    // `write_f64` formats itself, and differ elsewhere in when they switch
    // to an exponent.
    if (0.001..1e9).contains(&value) {
        return write_f64(line, value);
    }
    let text = serde_json::to_string(&value).map_err(|_| fmt::Error)?;
    line.write_str(&text)
}

/// Writes `text` as a JSON string.
pub(super) fn write_string(line: &mut impl Write, text: &str) -> fmt::Result {
    line.write_char('"')?;
    EscapeJson(&mut *line).write_str(text)?;
    line.write_char('"')
}

/// Escapes text for the inside of a JSON string as serde_json does: `"`,
/// `\` and control characters, with the short escapes where JSON has them.
struct EscapeJson<'w, W: Write>(&'w mut W);

impl<W: Write> Write for EscapeJson<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut start = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[start..at])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escaped)?;
            }
            start = at + 1;
        }
        self.0.write_str(&text[start..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use serde_json::Value;
    use tracing_subscriber::fmt::format::JsonFields;

    use super::super::captured::{Captured, ErrorWithSource};
    use super::*;

    /// Logs events outside spans, one inside a span, and one from the `log` crate.
    fn log_sample_events() {
        tracing::info!("starting");
        tracing::info!(
            request_id = "01J00000000000000000000000",
            outcome = "found",
            number = %"***0123",
            latency_ms = 0.016,
            "answered"
        );
        let error = ErrorWithSource {
            message: "the call \"failed\"",
            source: io::Error::other("reset"),
        };
        tracing::warn!(
            r#type = "search",
            detail = "quotes \", backslash \\, tab\t, newline\n, bell\x07, ünïcode",
            urls = ?["https://a.example/x"],
            ok = false,
            delta = -3i64,
            calls = 2u64,
            wide = 1u128 << 100,
            whole = 5.0,
            tiny = 1e-7,
            huge = 1e300,
            nan = f64::NAN,
            error = &error as &(dyn std::error::Error + 'static),
            "rejected: {}",
            "control \x1b[31m characters"
        );
        tracing::info!(message = "a message given as a field", after = 1u8);
        let span = tracing::info_span!("badge_request", request_id = "r-1");
        span.in_scope(|| tracing::info!(cache = "hit", "in a span"));
        let record = log::Record::builder()
            .args(format_args!("starting 2 workers"))
            .level(log::Level::Info)
            .target("actix_server::builder")
            .build();
        tracing_log::format_trace(&record).unwrap();
    }

    /// Returns the lines logged by the sample events, each with its
    /// timestamp replaced by `T`, because the two runs log at different times.
    fn lines_as_text(format: impl FnOnce(Captured) -> tracing::Dispatch) -> Vec<String> {
        let prefix = "{\"timestamp\":\"";
        Captured::lines_logged(format, log_sample_events)
            .iter()
            .map(|line| {
                let rest = line
                    .strip_prefix(prefix)
                    .expect("a line starts with its timestamp");
                let (_, rest) = rest.split_once('"').expect("the timestamp is a string");
                format!("{prefix}T\"{rest}")
            })
            .collect()
    }

    fn captured_with(format: impl FnOnce(Captured) -> tracing::Dispatch) -> Vec<Value> {
        lines_as_text(format)
            .iter()
            .map(|line| serde_json::from_str(line).expect("a line is JSON"))
            .collect()
    }

    /// Builds badgegate's JSON subscriber, writing to `writer`.
    fn json_lines(writer: Captured) -> tracing::Dispatch {
        tracing_subscriber::fmt()
            .with_writer(writer)
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines::default())
            .into()
    }

    #[test]
    fn lines_match_tracing_subscriber_json() {
        let ours = lines_as_text(json_lines);
        let stock = lines_as_text(|writer| {
            tracing_subscriber::fmt()
                .with_writer(writer)
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .into()
        });
        assert_eq!(ours.len(), 6, "{ours:#?}");
        assert_eq!(ours, stock);
    }

    #[test]
    fn lines_keep_field_order_and_types() {
        let lines = captured_with(json_lines);
        let answered = &lines[1];
        assert_eq!(answered["level"], "INFO");
        assert_eq!(answered["message"], "answered");
        assert_eq!(answered["number"], "***0123");
        assert_eq!(answered["latency_ms"], 0.016);
        let awkward = &lines[2];
        assert_eq!(awkward["delta"], -3);
        assert_eq!(awkward["ok"], false);
        assert_eq!(awkward["nan"], Value::Null);
        assert_eq!(awkward["wide"], (1u128 << 100).to_string());
        assert!(awkward["detail"].as_str().unwrap().contains("bell\u{7}"));
        assert_eq!(lines[5]["target"], "actix_server::builder");
    }

    #[test]
    fn numbers_match_serde_json() {
        let mut values: Vec<f64> = (0..200_000).map(|micros| micros as f64 / 1000.0).collect();
        values.extend([
            0.0,
            -0.0,
            -2.5,
            0.0001,
            1e-7,
            1e9,
            1e16,
            1e300,
            0.1 + 0.2,
            f64::MAX,
        ]);
        for value in values {
            let mut ours = String::new();
            write_number(&mut ours, value).unwrap();
            assert_eq!(
                ours,
                serde_json::to_string(&value).unwrap(),
                "for {value:?}"
            );
        }
    }

    #[test]
    fn timestamp_is_rfc3339_with_microseconds() {
        let captured = Captured::default();
        let dispatch = json_lines(captured.clone());
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("now"));
        let line: Value = serde_json::from_str(&captured.text()).unwrap();
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
        assert_eq!(timestamp.len(), "2026-12-05T12:08:26.007001Z".len());
    }
}
