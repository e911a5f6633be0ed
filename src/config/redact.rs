//! Values taken from the environment, hidden again in config problems.
//!
//! Secrets reach the config through `${VAR}` references and `BADGEGATE_`
//! overrides. A problem message can quote a value, such as a string where a
//! list belongs or a rejected URL. `check` prints problems and a rejected
//! reload logs them, so each such value is shown as the reference that
//! supplied it.

use std::fmt;

/// Values shorter than this stay as they are: replacing `1` or `on`
/// everywhere would garble messages, and a secret is longer.
const MIN_HIDDEN_LENGTH: usize = 4;

/// The environment values a config was built from, each with the name
/// shown in its place.
#[derive(Clone, Default)]
pub struct Redactions {
    values: Vec<(String, String)>,
}

impl Redactions {
    /// Records that `value` came from the reference `shown_as`.
    pub fn add(&mut self, value: &str, shown_as: String) {
        if value.len() >= MIN_HIDDEN_LENGTH && !self.values.iter().any(|(known, _)| known == value)
        {
            self.values.push((value.to_string(), shown_as));
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
        let shown = redactions.apply("found \"jc-secret-123\" and jc-secret-123-longer, on");
        assert_eq!(
            shown,
            "found \"${JUSTCALL_API_SECRET}\" and $BADGEGATE_X__Y, on"
        );
    }

    #[test]
    fn debug_shows_no_value() {
        let mut redactions = Redactions::default();
        redactions.add("jc-secret-123", "${S}".into());
        assert_eq!(format!("{redactions:?}"), "Redactions(1 values)");
    }
}
