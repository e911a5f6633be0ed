//! Field formatting for the plain text lines.
//!
//! The fields read as tracing-subscriber's `DefaultFields` writes them with
//! colors off: the message as written, then `name=value` for each field,
//! separated by spaces, strings quoted. `DefaultFields` runs its styling
//! code for every field name and `=` even when colors are off, and escapes
//! the message one character at a time. At `log.level = "info"` every
//! request writes a line of seven fields, so this formatter writes the
//! parts directly and copies text that needs no escaping in one piece.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// Formats fields as plain text.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainFields;

impl<'a> MakeVisitor<Writer<'a>> for PlainFields {
    type Visitor = PlainVisitor<Writer<'a>>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        let sanitize = target.sanitizes_ansi_escapes();
        PlainVisitor::new(target, sanitize)
    }
}

/// Writes one event's or span's fields to `W`: a `Writer` for span fields,
/// and the line being built for an event's fields.
pub struct PlainVisitor<W> {
    writer: W,
    /// Whether control characters in messages are escaped.
    sanitize: bool,
    is_empty: bool,
    result: fmt::Result,
}

/// The kind of a field, read from its name.
enum Name<'a> {
    Message,
    /// Metadata of a `log` crate record, already written as the target.
    LogMetadata,
    Field(&'a str),
}

impl<'a> Name<'a> {
    fn of(field: &'a Field) -> Self {
        match field.name() {
            "message" => Self::Message,
            name if name.starts_with("log.") => Self::LogMetadata,
            name => Self::Field(name.strip_prefix("r#").unwrap_or(name)),
        }
    }
}

impl<W: Write> PlainVisitor<W> {
    pub fn new(writer: W, sanitize: bool) -> Self {
        Self {
            writer,
            sanitize,
            is_empty: true,
            result: Ok(()),
        }
    }

    /// Writes the space before every field but the first.
    fn separate(&mut self) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    fn write_message(&mut self, message: fmt::Arguments<'_>) -> fmt::Result {
        self.separate()?;
        if self.sanitize {
            EscapeControls(&mut self.writer).write_fmt(message)
        } else {
            self.writer.write_fmt(message)
        }
    }

    fn write_name(&mut self, name: &str) -> fmt::Result {
        self.separate()?;
        self.writer.write_str(name)?;
        self.writer.write_char('=')
    }
}

/// Writes a string field as `name="value"`, with `="` in one write, or as
/// `name=` and the value as `{:?}` writes it when it needs escaping. The
/// `answered` line of every request has five string fields.
pub(super) fn write_string_field(writer: &mut impl Write, name: &str, value: &str) -> fmt::Result {
    writer.write_str(name)?;
    if is_plain(value) {
        writer.write_str("=\"")?;
        writer.write_str(value)?;
        writer.write_char('"')
    } else {
        writer.write_char('=')?;
        write!(writer, "{value:?}")
    }
}

impl<W: Write> Visit for PlainVisitor<W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.result = match Name::of(field) {
            Name::Message => self.write_message(format_args!("{value}")),
            Name::LogMetadata => Ok(()),
            Name::Field(name) => self
                .separate()
                .and_then(|()| write_string_field(&mut self.writer, name, value)),
        };
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.result.is_err() {
            return;
        }
        match Name::of(field) {
            Name::Field(name) => {
                self.result = self
                    .write_name(name)
                    .and_then(|()| write_f64(&mut self.writer, value));
            }
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.result = match Name::of(field) {
            Name::Message => self.write_message(format_args!("{value:?}")),
            Name::LogMetadata => Ok(()),
            Name::Field(name) => self
                .write_name(name)
                .and_then(|()| write!(self.writer, "{value:?}")),
        };
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_err() {
            return;
        }
        // Few lines carry an error, so the default visitor writes them, with
        // the list of their sources.
        // A new `Writer` escapes control characters, as badgegate's
        // subscriber does everywhere.
        let mut default = DefaultVisitor::new(Writer::new(&mut self.writer), self.is_empty);
        default.record_error(field, value);
        self.result = default.finish();
        if !matches!(Name::of(field), Name::LogMetadata) {
            self.is_empty = false;
        }
    }
}

impl<W: Write> VisitOutput<fmt::Result> for PlainVisitor<W> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl<W: Write> VisitFmt for PlainVisitor<W> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// Returns whether `{:?}` writes `value` between quotes unchanged. Checks
/// eight bytes at a time: a request id is 26 bytes, and every request at
/// `log.level = "info"` checks five values.
fn is_plain(value: &str) -> bool {
    let mut words = value.as_bytes().chunks_exact(8);
    let plain_words = words.by_ref().all(|word| {
        let word: [u8; 8] = word.try_into().expect("chunks of eight bytes");
        is_plain_word(u64::from_le_bytes(word))
    });
    plain_words && words.remainder().iter().all(|&byte| is_plain_byte(byte))
}

/// Returns whether `{:?}` writes `byte` of a string unchanged: printable
/// ASCII other than `"` and `\`.
fn is_plain_byte(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\'
}

/// Returns whether each byte of `word` is one that [`is_plain_byte`]
/// accepts.
fn is_plain_word(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero when a byte of `x` is below `n`, for `n` up to 128.
    let any_below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let control = any_below(word, b' ');
    // A byte of 0x7f or above has its high bit set, or sets it when 1 is added.
    let delete_or_high = (word | word.wrapping_add(ONES)) & HIGH;
    let quote = any_below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = any_below(word ^ (ONES * u64::from(b'\\')), 1);
    control | delete_or_high | quote | backslash == 0
}

/// Writes `value` as `{:?}` does. A value of at most three decimals below a
/// billion, such as a latency in whole microseconds given in milliseconds,
/// is written from its integer thousandths, without the general float
/// formatting.
pub(super) fn write_f64(writer: &mut impl Write, value: f64) -> fmt::Result {
    let thousandths = (value * 1000.0).round();
    // `{:?}` writes values from 1e-4 up in decimal notation, and below a
    // billion the thousandths are exact and the shortest digits that read
    // back as `value`.
    if (0.001..1e9).contains(&value) && thousandths / 1000.0 == value {
        // In range and whole, so the conversion is exact.
        let thousandths = thousandths as u64;
        let (mut whole, mut fraction) = (thousandths / 1000, thousandths % 1000);
        let mut digits = 3;
        while digits > 1 && fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        // Filled from the end: the fraction's digits, the point, then at most
        // nine digits of the whole part.
        let mut text = [0u8; 16];
        let mut start = text.len();
        for _ in 0..digits {
            start -= 1;
            text[start] = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        start -= 1;
        text[start] = b'.';
        loop {
            start -= 1;
            text[start] = b'0' + (whole % 10) as u8;
            whole /= 10;
            if whole == 0 {
                break;
            }
        }
        writer.write_str(std::str::from_utf8(&text[start..]).map_err(|_| fmt::Error)?)
    } else {
        write!(writer, "{value:?}")
    }
}

/// Escapes the control characters a terminal could act on (ESC, BEL, BS,
/// FF, DEL and the C1 codes), as tracing-subscriber does in messages, so a
/// message cannot move the cursor or retitle the terminal.
struct EscapeControls<'w, W: Write>(&'w mut W);

impl<W: Write> Write for EscapeControls<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut start = 0;
        for (at, character) in text.char_indices() {
            let escaped = match character {
                '\x1b' => "\\x1b",
                '\x07' => "\\x07",
                '\x08' => "\\x08",
                '\x0c' => "\\x0c",
                '\x7f' => "\\x7f",
                '\u{80}'..='\u{9f}' => "",
                _ => continue,
            };
            self.0.write_str(&text[start..at])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{{{:x}}}", u32::from(character))?;
            } else {
                self.0.write_str(escaped)?;
            }
            start = at + character.len_utf8();
        }
        self.0.write_str(&text[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        EscapeControls(&mut out).write_str(text).unwrap();
        out
    }

    #[test]
    fn plain_check_matches_each_byte() {
        // Every byte value at every position of a word and of the tail.
        for length in [8, 13] {
            for position in 0..length {
                for byte in 0..=u8::MAX {
                    let mut bytes = vec![b'a'; length];
                    bytes[position] = byte;
                    let Ok(text) = std::str::from_utf8(&bytes) else {
                        continue;
                    };
                    assert_eq!(
                        is_plain(text),
                        is_plain_byte(byte),
                        "{byte:#04x} at {position} of {length}"
                    );
                }
            }
        }
        // Two bytes near the edges of the accepted range in one word.
        let edges = [
            0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f,
        ];
        for first in edges {
            for second in edges {
                for (at, then) in [(0, 1), (3, 4), (6, 7), (0, 7)] {
                    let mut bytes = [b'a'; 8];
                    bytes[at] = first;
                    bytes[then] = second;
                    let text = std::str::from_utf8(&bytes).unwrap();
                    let expected = bytes.iter().all(|&byte| is_plain_byte(byte));
                    assert_eq!(is_plain(text), expected, "{bytes:?}");
                }
            }
        }
        assert!(is_plain("01J00000000000000000000000"));
        assert!(!is_plain("ünïcode"));
        assert!(!is_plain("a tab\there"));
    }

    #[test]
    fn message_controls_escaped_text_kept() {
        assert_eq!(escaped("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(escaped("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert_eq!(escaped("a\u{9b}b\u{85}"), "a\\u{9b}b\\u{85}");
        assert_eq!(escaped("\x08\x0c\x7f"), "\\x08\\x0c\\x7f");
    }

    fn visited(record: impl FnOnce(&mut PlainVisitor<Writer<'_>>, &Field)) -> String {
        struct Callsite;
        impl tracing::callsite::Callsite for Callsite {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                &METADATA
            }
        }
        static CALLSITE: Callsite = Callsite;
        static METADATA: tracing::Metadata<'static> = tracing::metadata! {
            name: "test",
            target: "test",
            level: tracing::Level::INFO,
            fields: &["value"],
            callsite: &CALLSITE,
            kind: tracing::metadata::Kind::EVENT,
        };
        let field = METADATA.fields().field("value").unwrap();
        let mut out = String::new();
        let mut visitor = PlainFields.make_visitor(Writer::new(&mut out));
        record(&mut visitor, &field);
        visitor.finish().unwrap();
        out
    }

    #[test]
    fn strings_match_debug() {
        for value in [
            "found",
            "",
            "with \"quotes\"",
            "back\\slash",
            "tab\tand\nnewline",
            "ünïcode",
            "\x1b[2J",
            "~ and space",
        ] {
            let out = visited(|visitor, field| visitor.record_str(field, value));
            assert_eq!(out, format!("value={value:?}"), "for {value:?}");
        }
    }

    #[test]
    fn floats_match_debug() {
        let mut values: Vec<f64> = (0..200_000).map(|micros| micros as f64 / 1000.0).collect();
        values.extend((0..2_000u64).map(|micros| (micros * 7_919_993) as f64 / 1000.0));
        values.extend([
            0.0001,
            0.0005,
            1e-7,
            0.1 + 0.2,
            999_999_999.999,
            1e9,
            1e15 + 0.5,
            1e16,
            -0.25,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
        ]);
        for value in values {
            let out = visited(|visitor, field| visitor.record_f64(field, value));
            assert_eq!(out, format!("value={value:?}"), "for {value:?}");
        }
    }
}
