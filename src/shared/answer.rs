//! The format of answers stored in Redis. Every value carries a format
//! version; a replica ignores versions it does not know, so a fleet can roll
//! out a new format without misreading values.

use serde::{Deserialize, Serialize};

/// The format version this build writes and reads.
const FORMAT_VERSION: u32 = 1;

/// An answer as stored in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// Format version.
    pub v: u32,
    /// When the answer was stored, in Unix milliseconds.
    pub stored_at_ms: i64,
    /// The badge, or `None` for "not found".
    pub found: Option<StoredBadge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBadge {
    pub name: String,
    pub link: String,
    pub email: Option<String>,
    pub source: String,
    pub contact_id: String,
}

impl StoredAnswer {
    pub fn new(stored_at_ms: i64, found: Option<StoredBadge>) -> Self {
        StoredAnswer {
            v: FORMAT_VERSION,
            stored_at_ms,
            found,
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a stored answer is plain JSON")
    }

    /// Reads a stored value; `None` for another format version or a value
    /// that is not an answer.
    pub fn decode(raw: &str) -> Option<StoredAnswer> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version = serde_json::from_str(raw).ok()?;
        if version.v != FORMAT_VERSION {
            tracing::debug!(
                version = version.v,
                "ignored a shared answer in another format version"
            );
            return None;
        }
        serde_json::from_str(raw).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let answer = StoredAnswer::new(
            1_774_112_902_000,
            Some(StoredBadge {
                name: "Ada Lovelace".into(),
                link: "https://crm.example.com/1".into(),
                email: None,
                source: "hubspot".into(),
                contact_id: "501".into(),
            }),
        );
        assert_eq!(StoredAnswer::decode(&answer.encode()), Some(answer));
    }

    #[test]
    fn other_versions_and_garbage_are_ignored() {
        assert_eq!(
            StoredAnswer::decode(r#"{"v": 2, "stored_at_ms": 1, "found": null, "extra": 1}"#),
            None
        );
        assert_eq!(StoredAnswer::decode("not json"), None);
        assert_eq!(StoredAnswer::decode(r#"{"v": 1}"#), None);
    }
}
