//! The parts the text and JSON line formats share: the thread's line buffer
//! and the timestamp.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use tracing_subscriber::fmt::format::Writer;

thread_local! {
    /// The line a thread is building. Built here rather than in the
    /// formatter's `Writer`, so each piece is appended directly instead of
    /// through a `dyn fmt::Write` call.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The largest line buffer a thread keeps between lines.
const KEPT_LINE_CAPACITY: usize = 16 * 1024;

/// Runs `build` on the thread's line buffer, cleared, or on a new buffer
/// when this thread is building a line already: an event logged from a
/// field's `Debug` code while this thread formats another.
pub(super) fn with_line<T>(build: impl FnOnce(&mut String) -> T) -> T {
    LINE.with(|line| match line.try_borrow_mut() {
        Ok(mut line) => {
            line.clear();
            let result = build(&mut line);
            if line.capacity() > KEPT_LINE_CAPACITY {
                *line = String::new();
            }
            result
        }
        Err(_) => build(&mut String::new()),
    })
}

/// Builds a line with `build`, then writes it to `writer` in one piece.
pub(super) fn build_line(
    mut writer: Writer<'_>,
    build: impl FnOnce(&mut String) -> fmt::Result,
) -> fmt::Result {
    with_line(|line| {
        build(line)?;
        writer.write_str(line)
    })
}

/// A whole second that a thread formatted last, with its text
/// (`2026-12-05T12:08:26`).
struct Second {
    seconds: u64,
    text: String,
}

thread_local! {
    static SECOND: RefCell<Second> = const {
        RefCell::new(Second { seconds: u64::MAX, text: String::new() })
    };
}

/// Writes `now` in RFC 3339 with microseconds, in UTC.
pub(super) fn write_timestamp(writer: &mut impl Write, now: SystemTime) -> fmt::Result {
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        return writer.write_str("<unknown time>");
    };
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|second| {
        if second.seconds != seconds {
            second.text.clear();
            let date = i64::try_from(seconds)
                .ok()
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
            match date {
                Some(date) => write!(second.text, "{}", date.format("%Y-%m-%dT%H:%M:%S"))?,
                None => second.text.push_str("<unknown time>"),
            }
            second.seconds = seconds;
        }
        writer.write_str(&second.text)
    })?;
    // `.` and the six digits of the microseconds, then `Z`.
    let mut fraction = *b".000000Z";
    let mut micros = since_epoch.subsec_micros();
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn nested_line_gets_own_buffer() {
        // As when a field's `Debug` code logs while this thread formats a line.
        let (outer, inner) = with_line(|outer| {
            outer.push_str("outer ");
            let inner = with_line(|inner| {
                inner.push_str("inner");
                inner.clone()
            });
            outer.push_str("line");
            (outer.clone(), inner)
        });
        assert_eq!(outer, "outer line");
        assert_eq!(inner, "inner");
        assert_eq!(with_line(|line| line.len()), 0);
    }

    #[test]
    fn timestamp_is_rfc3339_with_microseconds() {
        let mut text = String::new();
        let at = UNIX_EPOCH + Duration::new(1_796_472_506, 7_001_000);
        write_timestamp(&mut text, at).unwrap();
        assert_eq!(text, "2026-12-05T12:08:26.007001Z");

        // The same second again reuses the thread's text, and the next second
        // formats its own.
        text.clear();
        write_timestamp(&mut text, at + Duration::from_micros(5)).unwrap();
        assert_eq!(text, "2026-12-05T12:08:26.007006Z");
        text.clear();
        write_timestamp(&mut text, at + Duration::from_secs(1)).unwrap();
        assert_eq!(text, "2026-12-05T12:08:27.007001Z");
    }
}
