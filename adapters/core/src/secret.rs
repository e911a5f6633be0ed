use std::fmt;

use serde::{Deserialize, Deserializer};

/// A credential (API secret, access token, password) that never shows up in
/// `Debug` or `Display` output, so it cannot leak through a log line, a panic
/// message or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Marker printed in place of the value.
    pub const REDACTED: &'static str = "[redacted]";

    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the secret value. Call this only where the value is sent or
    /// used for signing, never to build a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // An environment override such as `BADGEGATE_ADMIN__TOKEN=123456`
        // arrives as a number, so digits are taken as the secret's text.
        // NOTE: the number's leading zeros are gone by then, so `000123`
        // becomes `123`. Quoting the value (`'"000123"'`) keeps them.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            String(String),
            Unsigned(u64),
            Signed(i64),
        }
        Ok(Secret(match Text::deserialize(deserializer)? {
            Text::String(text) => text,
            Text::Unsigned(number) => number.to_string(),
            Text::Signed(number) => number.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::new("pat-na1-0123456789");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose(), "pat-na1-0123456789");
    }

    #[test]
    fn digits_deserialize_as_text() {
        let secret: Secret = serde_json::from_value(serde_json::json!(123456)).unwrap();
        assert_eq!(secret.expose(), "123456");
    }

    #[test]
    fn debug_of_containing_struct_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Settings {
            token: Secret,
        }
        let printed = format!(
            "{:?}",
            Settings {
                token: Secret::new("abc123")
            }
        );
        assert!(!printed.contains("abc123"), "{printed}");
    }
}
