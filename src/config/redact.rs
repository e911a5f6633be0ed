//! Values taken from the environment, hidden again in config problems.
//!
//! Secrets reach the config through `${VAR}` references and `BADGEGATE_`
//! overrides. A problem message can quote a value, such as a string where a
//! list belongs or a rejected URL. `check` prints problems and a rejected
//! reload logs them, so each such value is shown as the reference that
//! supplied it.

use std::fmt;

/// Values shorter than this stay as they are, because replacing `1` or
/// `on` everywhere would garble messages. A secret is longer.
const MIN_HIDDEN_LENGTH: usize = 4;

/// The environment values a config was built from, each with the name
/// shown in its place.
#[derive(Clone, Default)]
pub struct Redactions {
    values: Vec<(String, String)>,
}

impl Redactions {
    /// Records that `value` came from the reference `shown_as`. Messages may
    /// quote it as is or escaped as Rust's `{:?}` and JSON write it, and a
    /// secret read from a file often ends in a newline, so all three
    /// spellings are recorded.
    pub fn add(&mut self, value: &str, shown_as: String) {
        let debug = format!("{value:?}");
        let json = serde_json::to_string(value).unwrap_or_default();
        for spelling in [value, unquoted(&debug), unquoted(&json)] {
            self.add_spelling(spelling, &shown_as);
        }
    }

    /// Records a `BADGEGATE_` override's value, which figment reads as a
    /// TOML value: also without the quotes, brackets and commas around its
    /// parts, and each part on its own.
    pub fn add_override(&mut self, value: &str, shown_as: String) {
        self.add(value, shown_as.clone());
        let separators = |c: char| matches!(c, '"' | '\'' | '[' | ']' | ',' | '{' | '}' | '=');
        for part in value.split(separators).map(str::trim) {
            self.add(part, shown_as.clone());
            // Numbers lose their leading zeros when parsed.
            if part.len() > 1 && part.bytes().all(|byte| byte.is_ascii_digit()) {
                self.add(part.trim_start_matches('0'), shown_as.clone());
            }
        }
    }

    fn add_spelling(&mut self, value: &str, shown_as: &str) {
        let known = self.values.iter().any(|(known, _)| known == value);
        if value.len() >= MIN_HIDDEN_LENGTH && !known {
            self.values.push((value.to_string(), shown_as.to_string()));
            // Longer values first, so a value that contains another is replaced whole.
            self.values
                .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        }
    }

    /// Returns `text` with every recorded value replaced by its reference.
    pub fn apply(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (value, shown_as) in &self.values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), shown_as);
            }
        }
        text
    }
}

/// Returns a quoted string's text without its quotes.
fn unquoted(quoted: &str) -> &str {
    quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(quoted)
}

impl fmt::Debug for Redactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactions({} values)", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_replaced_by_references() {
        let mut redactions = Redactions::default();
        redactions.add("jc-secret-123", "${JUSTCALL_API_SECRET}".into());
        redactions.add("jc-secret-123-longer", "$BADGEGATE_X__Y".into());
        redactions.add("on", "${SHORT}".into());
        let redacted = redactions.apply("found \"jc-secret-123\" and jc-secret-123-longer, on");
        assert_eq!(
            redacted,
            "found \"${JUSTCALL_API_SECRET}\" and $BADGEGATE_X__Y, on"
        );
    }

    #[test]
    fn escaped_spellings_replaced() {
        let mut redactions = Redactions::default();
        redactions.add("pat-na1-token\n", "${TOK}".into());
        redactions.add("with \"quote\"", "${QUOTED}".into());
        assert_eq!(
            redactions.apply("`\"pat-na1-token\\n\"` is not"),
            "`\"${TOK}\"` is not"
        );
        assert_eq!(
            redactions.apply("string \"with \\\"quote\\\"\""),
            "string \"${QUOTED}\""
        );
    }

    #[test]
    fn override_parts_replaced() {
        let mut redactions = Redactions::default();
        redactions.add_override(
            "[\"ftp://user:pw4567@h.example\"]",
            "$BADGEGATE_A__B".into(),
        );
        redactions.add_override("00938472615243", "$BADGEGATE_C__D".into());
        assert_eq!(
            redactions.apply("`ftp://user:pw4567@h.example` is not"),
            "`$BADGEGATE_A__B` is not"
        );
        assert_eq!(
            redactions.apply("found unsigned int `938472615243`"),
            "found unsigned int `$BADGEGATE_C__D`"
        );
    }

    #[test]
    fn debug_shows_no_value() {
        let mut redactions = Redactions::default();
        redactions.add("jc-secret-123", "${S}".into());
        assert_eq!(format!("{redactions:?}"), "Redactions(1 values)");
    }
}
