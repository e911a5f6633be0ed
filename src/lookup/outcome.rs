//! What a lookup produces: the answer, whether the cache gave it, and a
//! record of each source asked.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::matching::Verdict;
use super::source::SourceError;

/// The badge JustCall shows, with the source and record it came from.
///
/// A cached badge lives in memory for as long as its entry, so the five texts
/// share one allocation and a clone only bumps one reference count.
#[derive(Clone, PartialEq, Eq)]
pub struct Badge {
    /// Name, profile link, email, record id and source name, one after the
    /// other.
    text: Arc<str>,
    name_end: u32,
    link_end: u32,
    /// End of the email in `text`; equal to `link_end` when there is none.
    email_end: u32,
    id_end: u32,
    has_email: bool,
    /// No field JustCall reads contains a character that JSON escapes, so
    /// the fields can be copied into a response as they are.
    json_plain: bool,
}

impl Badge {
    /// Builds a badge. Each text is cut to its first 64 KiB, at a character
    /// boundary: no agent reads a longer name, and the cut keeps offsets small.
    pub fn new(
        contact_name: &str,
        contact_profile_link: &str,
        contact_email: Option<&str>,
        source: &str,
        contact_id: &str,
    ) -> Self {
        let (name, link, id) = (
            cut(contact_name),
            cut(contact_profile_link),
            cut(contact_id),
        );
        let email = cut(contact_email.unwrap_or_default());
        let source = cut(source);
        let mut text =
            String::with_capacity(name.len() + link.len() + email.len() + id.len() + source.len());
        // Five texts of at most 64 KiB each always fit a u32 offset.
        let mut push = |part: &str| {
            text.push_str(part);
            text.len() as u32
        };
        let name_end = push(name);
        let link_end = push(link);
        let email_end = push(email);
        let id_end = push(id);
        push(source);
        Badge {
            text: Arc::from(text),
            name_end,
            link_end,
            email_end,
            id_end,
            has_email: contact_email.is_some(),
            json_plain: [name, link, email].iter().all(|field| is_json_plain(field)),
        }
    }

    /// Appends the fields JustCall reads as a JSON object, with the bytes
    /// serde_json writes for [`Serialize`]. A badge whose fields need no
    /// escaping, as nearly all do, is copied piece by piece.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        if !self.json_plain {
            serde_json::to_writer(out, self).expect("writing JSON into a Vec cannot fail");
            return;
        }
        out.extend_from_slice(b"{\"contact_name\":\"");
        out.extend_from_slice(self.contact_name().as_bytes());
        out.extend_from_slice(b"\",\"contact_profile_link\":\"");
        out.extend_from_slice(self.contact_profile_link().as_bytes());
        if let Some(email) = self.contact_email() {
            out.extend_from_slice(b"\",\"contact_email\":\"");
            out.extend_from_slice(email.as_bytes());
        }
        out.extend_from_slice(b"\"}");
    }

    pub fn contact_name(&self) -> &str {
        &self.text[..self.name_end as usize]
    }

    pub fn contact_profile_link(&self) -> &str {
        &self.text[self.name_end as usize..self.link_end as usize]
    }

    pub fn contact_email(&self) -> Option<&str> {
        self.has_email
            .then(|| &self.text[self.link_end as usize..self.email_end as usize])
    }

    /// Returns a copy with a text allocation of its own, so that cloning and
    /// dropping it writes no memory that `self` shares with other threads.
    pub fn unshared(&self) -> Badge {
        Badge {
            text: Arc::from(&*self.text),
            ..*self
        }
    }

    /// Names the source the badge came from; not sent to JustCall.
    pub fn source(&self) -> &str {
        &self.text[self.id_end as usize..]
    }

    /// Returns the id of the record the badge came from; not sent to JustCall.
    pub fn contact_id(&self) -> &str {
        &self.text[self.email_end as usize..self.id_end as usize]
    }
}

/// Returns whether serde_json writes `text` as it is: it escapes quotes,
/// backslashes and control characters below U+0020, and nothing else.
fn is_json_plain(text: &str) -> bool {
    !text
        .bytes()
        .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// Maximum bytes a badge keeps of each field.
const MAX_FIELD_BYTES: usize = 64 * 1024;

fn cut(text: &str) -> &str {
    if text.len() <= MAX_FIELD_BYTES {
        return text;
    }
    let mut end = MAX_FIELD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl fmt::Debug for Badge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Badge")
            .field("contact_name", &self.contact_name())
            .field("contact_profile_link", &self.contact_profile_link())
            .field("contact_email", &self.contact_email())
            .field("source", &self.source())
            .field("contact_id", &self.contact_id())
            .finish()
    }
}

/// Writes the fields JustCall reads: name, profile link and, when known, email.
impl Serialize for Badge {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let email = self.contact_email();
        let mut map = serializer.serialize_map(Some(2 + usize::from(email.is_some())))?;
        map.serialize_entry("contact_name", self.contact_name())?;
        map.serialize_entry("contact_profile_link", self.contact_profile_link())?;
        if let Some(email) = email {
            map.serialize_entry("contact_email", email)?;
        }
        map.end()
    }
}

/// An answer worth caching: every source answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Found(Badge),
    NotFound,
}

/// Why no answer could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the lookup deadline passed")]
    Deadline,
    #[error("no source matched and at least one source failed")]
    SourcesFailed,
}

/// The result of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Found(Badge),
    NotFound,
    Unavailable(Unavailable),
}

impl Outcome {
    /// A short, fixed label for logs: `found`, `not_found`, `upstream_unavailable`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Found(_) => "found",
            Outcome::NotFound => "not_found",
            Outcome::Unavailable(_) => "upstream_unavailable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Answered from the cache.
    Hit,
    /// Answered by the sources, or by another request's lookup of the same number.
    Miss,
    /// Answered from an expired entry because no source could answer.
    Stale,
    /// Answered from the cache shared by the replicas in Redis.
    SharedHit,
}

impl CacheStatus {
    pub fn label(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Stale => "stale",
            CacheStatus::SharedHit => "shared_hit",
        }
    }
}

/// One source asked during a lookup.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(serialize_with = "as_millis", rename = "duration_ms")]
    pub duration: Duration,
    /// Upstream calls made, retries included.
    pub calls: u32,
    /// `matched`, `no_match`, `failed` or `cancelled`.
    pub result: &'static str,
    /// The error's message, when the source failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub candidates: Vec<Verdict>,
    /// The requests the source's adapter made, when the lookup was traced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
    /// The id of the record the badge came from, when this source matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

impl Attempt {
    pub(super) fn failed(
        source: &super::Source,
        duration: Duration,
        calls: u32,
        error: &SourceError,
    ) -> Self {
        Attempt {
            source: source.name.clone(),
            kind: source.kind.clone(),
            duration,
            calls,
            result: "failed",
            error: Some(error.to_string()),
            candidates: Vec::new(),
            requests: Vec::new(),
            chosen: None,
        }
    }

    /// A source of lower priority whose call was dropped in parallel mode
    /// because a source listed before it matched.
    pub(super) fn cancelled(source: &super::Source) -> Self {
        Attempt {
            source: source.name.clone(),
            kind: source.kind.clone(),
            duration: Duration::ZERO,
            calls: 0,
            result: "cancelled",
            error: None,
            candidates: Vec::new(),
            requests: Vec::new(),
            chosen: None,
        }
    }
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

/// A lookup's result with what the trace shows.
#[derive(Debug, Clone)]
pub struct LookupResult {
    pub outcome: Outcome,
    pub cache: CacheStatus,
    /// The sources asked by the run that answered; empty on a cache hit.
    pub attempts: Vec<Attempt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_as_serde_json_writes_it() {
        let badges = [
            Badge::new(
                "Ada Lovelace",
                "https://crm.example.com/contacts/42",
                Some("ada@example.com"),
                "hubspot",
                "42",
            ),
            Badge::new(
                "Zoë Ñúñez 李",
                "https://crm.example.com/c?id=1&x=é",
                None,
                "zoho",
                "7",
            ),
            Badge::new("", "", Some(""), "", ""),
            Badge::new(
                "Ada \"Countess\" Lovelace",
                "https://crm.example.com/a\\b",
                None,
                "s",
                "1",
            ),
            Badge::new(
                "tab\there",
                "line\nbreak",
                Some("bell\u{7}\u{1f}"),
                "s",
                "1",
            ),
            Badge::new("del \u{7f} and \u{9b} stay", "/", Some("a@b"), "s", "1"),
        ];
        for (index, badge) in badges.iter().enumerate() {
            let mut written = Vec::new();
            badge.write_json(&mut written);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(badge).unwrap(),
                "badge {index}"
            );
            // Badges 3 and 4 need escapes and go through serde_json.
            assert_eq!(badge.json_plain, index < 3 || index == 5, "badge {index}");
        }
    }

    #[test]
    fn plain_check_matches_serde_json() {
        for code in 0..=0x10ffff_u32 {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            let text = character.to_string();
            let escaped = serde_json::to_string(&text).unwrap() != format!("\"{text}\"");
            assert_eq!(is_json_plain(&text), !escaped, "U+{code:04X}");
        }
    }

    #[test]
    fn badge_gives_back_each_field() {
        let badge = Badge::new(
            "Ada Lovelace",
            "https://crm.example.com/contacts/42",
            Some("ada@example.com"),
            "hubspot",
            "42",
        );
        assert_eq!(badge.contact_name(), "Ada Lovelace");
        assert_eq!(
            badge.contact_profile_link(),
            "https://crm.example.com/contacts/42"
        );
        assert_eq!(badge.contact_email(), Some("ada@example.com"));
        assert_eq!(badge.source(), "hubspot");
        assert_eq!(badge.contact_id(), "42");
        assert_eq!(
            serde_json::to_value(&badge).unwrap(),
            serde_json::json!({
                "contact_name": "Ada Lovelace",
                "contact_profile_link": "https://crm.example.com/contacts/42",
                "contact_email": "ada@example.com",
            })
        );
    }

    #[test]
    fn badge_tells_a_missing_email_from_an_empty_one() {
        let without = Badge::new("Ada", "https://l", None, "s", "1");
        let empty = Badge::new("Ada", "https://l", Some(""), "s", "1");
        assert_eq!(without.contact_email(), None);
        assert_eq!(empty.contact_email(), Some(""));
        assert_ne!(without, empty);
        assert!(!serde_json::to_string(&without)
            .unwrap()
            .contains("contact_email"));
    }

    #[test]
    fn badge_cuts_an_overlong_field_at_a_character_boundary() {
        let name = "é".repeat(MAX_FIELD_BYTES);
        let badge = Badge::new(&name, "https://l", None, "s", "7");
        assert!(badge.contact_name().len() <= MAX_FIELD_BYTES);
        assert!(badge.contact_name().chars().all(|c| c == 'é'));
        assert_eq!(badge.contact_profile_link(), "https://l");
        assert_eq!(badge.contact_id(), "7");
    }
}
