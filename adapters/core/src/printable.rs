//! Text from a CRM, made safe to log.

use std::fmt;

/// Text that a log line shows as is, save for control characters, which
/// it escapes (`\n`, `\u{1b}`). A CRM's data, such as a record id, could
/// otherwise end a text log line and forge the next one, or send escape
/// sequences to a terminal. Log it with `%Printable(&text)`.
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(char::is_control) {
            f.write_str(&rest[..at])?;
            let control = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", control.escape_debug())?;
            rest = &rest[at + control.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_escaped() {
        assert_eq!(Printable("501").to_string(), "501");
        assert_eq!(
            Printable("7\n2026 ERROR forged \u{1b}[31m").to_string(),
            "7\\n2026 ERROR forged \\u{1b}[31m"
        );
        assert_eq!(
            Printable("ünïcode \"quoted\"").to_string(),
            "ünïcode \"quoted\""
        );
    }
}
