//! The `x-justcall-request-timestamp` header: `YYYY-MM-DD HH:MM:SS` in UTC
//! (JustCall's sample), or integer Unix seconds or milliseconds.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Integers above this are milliseconds: as seconds they would lie past the
/// year 5000.
const MILLISECONDS_THRESHOLD: i64 = 100_000_000_000;

/// Parses a timestamp header into a UTC time.
pub fn parse(header: &str) -> Option<DateTime<Utc>> {
    let text = header.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: i64 = text.parse().ok()?;
        return if value > MILLISECONDS_THRESHOLD {
            DateTime::from_timestamp_millis(value)
        } else {
            DateTime::from_timestamp(value, 0)
        };
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
}

/// Returns the distance between `timestamp` and `now`, in either direction.
pub fn skew(timestamp: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - timestamp).abs().to_std().unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_justcall_sample_form_as_utc() {
        assert_eq!(
            parse("2024-03-21 17:08:22"),
            Some(at("2024-03-21T17:08:22Z"))
        );
    }

    #[test]
    fn parses_unix_seconds_and_milliseconds() {
        assert_eq!(parse("1774112902"), Some(at("2026-03-21T17:08:22Z")));
        assert_eq!(parse("1774112902000"), Some(at("2026-03-21T17:08:22Z")));
    }

    #[test]
    fn rejects_other_forms() {
        for text in [
            "",
            "yesterday",
            "2024-03-21T17:08:22Z",
            "-5",
            "12.5",
            "2024-13-01 00:00:00",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn skew_is_symmetric() {
        let now = at("2026-12-04T10:00:00Z");
        assert_eq!(
            skew(at("2026-12-04T09:55:00Z"), now),
            Duration::from_secs(300)
        );
        assert_eq!(
            skew(at("2026-12-04T10:05:00Z"), now),
            Duration::from_secs(300)
        );
    }
}
