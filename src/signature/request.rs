//! The request as it arrives ([`UnverifiedRequest`]) and as the lookup may
//! use it ([`VerifiedRequest`]). The only way to get a `VerifiedRequest` is
//! [`Verifier::verify`], so no code path can look a number up for a request
//! whose signature was not checked.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::prefix::{self, KeySet};
use super::scheme::{decode_signature, Scheme, SigningKey};
use super::seen::SeenSignatures;
use super::timestamp;
use crate::config::JustcallSettings;

/// Longest `request_id` accepted. JustCall sends 26-character ULIDs.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// The values of the three signing headers. Every occurrence is counted, so
/// that a repeated header can be rejected instead of one copy silently
/// winning.
#[derive(Debug, Default, Clone)]
pub struct SignatureHeaders<'a> {
    pub signature: HeaderValues<'a>,
    pub version: HeaderValues<'a>,
    pub timestamp: HeaderValues<'a>,
}

/// The occurrences of one header: the first value, borrowed from the request
/// where it can be, and how many there were.
#[derive(Debug, Default, Clone)]
pub struct HeaderValues<'a> {
    first: Option<Cow<'a, str>>,
    count: usize,
}

impl<'a> HeaderValues<'a> {
    /// Adds one occurrence of the header.
    pub fn push(&mut self, value: impl Into<Cow<'a, str>>) {
        if self.first.is_none() {
            self.first = Some(value.into());
        }
        self.count += 1;
    }

    /// Returns the header's value when it was sent once, `None` when it was
    /// not sent, and a rejection when it was sent more than once.
    fn single(&self, name: &'static str) -> Result<Option<&str>, RequestError> {
        match self.count {
            0 => Ok(None),
            1 => Ok(self.first.as_deref()),
            _ => Err(RequestError::Unauthorized(Rejection::RepeatedHeader(name))),
        }
    }
}

impl<'a, V: Into<Cow<'a, str>>> FromIterator<V> for HeaderValues<'a> {
    fn from_iter<I: IntoIterator<Item = V>>(values: I) -> Self {
        let mut collected = HeaderValues::default();
        for value in values {
            collected.push(value);
        }
        collected
    }
}

/// A request whose signature has not been checked. It exposes nothing of its
/// body: the number can only be read from the [`VerifiedRequest`] it becomes.
/// It borrows the body, so the verified request can borrow its fields
/// instead of copying them.
pub struct UnverifiedRequest<'a> {
    headers: SignatureHeaders<'a>,
    body: &'a [u8],
    urls: Cow<'a, [String]>,
}

impl<'a> UnverifiedRequest<'a> {
    /// `urls` are the URLs JustCall may have signed: the configured public
    /// URLs, or the one rebuilt from the request.
    pub fn new(
        headers: SignatureHeaders<'a>,
        body: &'a [u8],
        urls: impl Into<Cow<'a, [String]>>,
    ) -> Self {
        UnverifiedRequest {
            headers,
            body,
            urls: urls.into(),
        }
    }
}

/// A request whose signature verified (or whose check is turned off by
/// config), with its body's fields validated.
#[derive(Clone)]
pub struct VerifiedRequest<'a> {
    request_id: Cow<'a, str>,
    contact_number: Cow<'a, str>,
    scheme: Scheme,
}

impl VerifiedRequest<'_> {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The caller's number as JustCall sent it, not yet parsed.
    pub fn contact_number(&self) -> &str {
        &self.contact_number
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

impl fmt::Debug for VerifiedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedRequest")
            .field("request_id", &self.request_id)
            .field(
                "contact_number",
                &badgegate_adapter::phone::mask(&self.contact_number),
            )
            .field("scheme", &self.scheme)
            .finish()
    }
}

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The signature is missing, wrong or stale: 401.
    Unauthorized(Rejection),
    /// The body is malformed or a field is missing or invalid: 400.
    BadRequest {
        field: &'static str,
        message: String,
        /// The verified signature's scheme and `request_id` when the error was
        /// found after the signature verified, so the request still counts by
        /// its scheme and its log line names it.
        verified: Option<VerifiedBefore>,
    },
}

/// The scheme and `request_id` of a request whose signature verified before
/// a field of its body was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBefore {
    pub scheme: Scheme,
    pub request_id: String,
}

/// Why a signature was rejected. The messages are sent to the client, so
/// they hold no secret and no configured URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the x-justcall-signature header is missing")]
    MissingSignature,
    #[error("the {0} header is sent more than once; send it once")]
    RepeatedHeader(&'static str),
    #[error("the x-justcall-signature header is not 64 hexadecimal digits")]
    MalformedSignature,
    #[error("signature version `{0}` is not supported; the supported version is `v1`")]
    UnsupportedVersion(String),
    #[error("the x-justcall-request-timestamp header is missing")]
    MissingTimestamp,
    #[error("the x-justcall-request-timestamp header is not `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds or milliseconds")]
    InvalidTimestamp,
    #[error("the request timestamp is {:.3} s away from the gateway's clock, more than the {} s allowed", .skew.as_secs_f64(), .tolerance.as_secs())]
    StaleTimestamp { skew: Duration, tolerance: Duration },
    #[error("this signature was already used with another contact_number or none; sign each request anew")]
    ReusedSignature,
    #[error("the signature does not match")]
    Mismatch {
        /// The URLs the signature was checked against, for the log line.
        urls: Vec<String>,
    },
}

impl Rejection {
    /// A short, fixed label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::RepeatedHeader(_) => "repeated_header",
            Rejection::MalformedSignature => "malformed_signature",
            Rejection::UnsupportedVersion(_) => "unsupported_version",
            Rejection::MissingTimestamp => "missing_timestamp",
            Rejection::InvalidTimestamp => "invalid_timestamp",
            Rejection::StaleTimestamp { .. } => "stale_timestamp",
            Rejection::ReusedSignature => "reused_signature",
            Rejection::Mismatch { .. } => "signature_mismatch",
        }
    }
}

/// The shortest time a signature is remembered, and the time when the
/// replay window is off. A reload that widens the window up to half of it
/// finds every signature of the old window still remembered.
const MIN_SIGNATURE_MEMORY: Duration = Duration::from_secs(3600);

/// Returns how long to remember a signature under `settings`: at least
/// twice the window, because a timestamp may be that far ahead of the clock
/// or behind it.
fn signature_memory(settings: &JustcallSettings) -> Duration {
    settings
        .timestamp_tolerance
        .map_or(MIN_SIGNATURE_MEMORY, |window| {
            window.saturating_mul(2).max(MIN_SIGNATURE_MEMORY)
        })
}

/// Checks requests against the configured secrets.
///
/// JustCall's signature covers the request id and timestamp but not the
/// body's `contact_number`, so a captured request could be sent again with
/// another number inside the replay window. The verifier remembers each
/// signature with the number it arrived with, for as long as the window
/// lasts, and rejects the same signature with a different number.
pub struct Verifier {
    keys: Vec<SigningKey>,
    /// Names `keys` in each thread's digest states per URL.
    key_set: KeySet,
    accept_plain_sha256: bool,
    tolerance: Option<Duration>,
    verify_signatures: bool,
    seen: Arc<SeenSignatures>,
}

impl Verifier {
    pub fn new(settings: &JustcallSettings) -> Self {
        let memory = SeenSignatures::new(signature_memory(settings));
        Self::with_memory(settings, Arc::new(memory))
    }

    /// Builds a verifier for reloaded settings that keeps remembering the
    /// signatures this one has seen. The memory's keep time only grows, so
    /// a narrower window forgets nothing the old one may still accept.
    ///
    /// NOTE: a reload that widens the window beyond half an hour cannot
    /// bring back signatures already forgotten. Until the old timestamps
    /// leave the new window, such a signature is accepted with another
    /// number.
    pub fn reloaded(&self, settings: &JustcallSettings) -> Self {
        self.seen.keep_at_least(signature_memory(settings));
        Self::with_memory(settings, Arc::clone(&self.seen))
    }

    fn with_memory(settings: &JustcallSettings, seen: Arc<SeenSignatures>) -> Self {
        Verifier {
            keys: settings.secrets.iter().map(SigningKey::new).collect(),
            key_set: KeySet::new(),
            accept_plain_sha256: settings.accept_plain_sha256,
            tolerance: settings.timestamp_tolerance,
            verify_signatures: settings.verify_signatures,
            seen,
        }
    }

    /// Checks the headers, then the body's syntax and `request_id`, then the
    /// signature, then the body's `contact_number`. A request without a
    /// well-formed signature header is rejected before its body is read. A
    /// body that is not JSON is rejected as malformed even when its
    /// signature would not match, because the signature cannot be checked
    /// without the `request_id` inside it.
    pub fn verify<'a>(
        &self,
        request: UnverifiedRequest<'a>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedRequest<'a>, RequestError> {
        let signed = if self.verify_signatures {
            Some(self.check_headers(&request.headers, now)?)
        } else {
            None
        };
        let body = parse_body(request.body)?;
        let request_id = required_string(body.request_id, "request_id")?;
        if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            return Err(bad_request(
                "request_id",
                format!("`request_id` is longer than {MAX_REQUEST_ID_CHARS} characters"),
            ));
        }

        let (scheme, signature) = match signed {
            Some((signature, timestamp)) => {
                let scheme =
                    self.match_signature(&signature, &request.urls, &request_id, timestamp)?;
                (scheme, Some(signature))
            }
            None => (Scheme::Unverified, None),
        };

        let contact_number = match contact_number(body.contact_number) {
            Ok(number) => number,
            // A signature used before is a replay, whatever number it now
            // comes with, so it is rejected as one.
            Err(_) if signature.is_some_and(|signature| self.seen.remembers(signature, now)) => {
                return Err(RequestError::Unauthorized(Rejection::ReusedSignature))
            }
            Err(message) => {
                return Err(RequestError::BadRequest {
                    field: "contact_number",
                    message: message.to_string(),
                    verified: Some(VerifiedBefore {
                        scheme,
                        request_id: request_id.into_owned(),
                    }),
                })
            }
        };
        if let Some(signature) = signature {
            if !self
                .seen
                .first_use_or_same_number(signature, &contact_number, now)
            {
                return Err(RequestError::Unauthorized(Rejection::ReusedSignature));
            }
        }
        Ok(VerifiedRequest {
            request_id,
            contact_number,
            scheme,
        })
    }

    fn check_headers<'h>(
        &self,
        headers: &'h SignatureHeaders<'_>,
        now: DateTime<Utc>,
    ) -> Result<([u8; 32], &'h str), RequestError> {
        let unauthorized = RequestError::Unauthorized;
        let signature = headers
            .signature
            .single("x-justcall-signature")?
            .ok_or_else(|| unauthorized(Rejection::MissingSignature))?;
        let signature = decode_signature(signature)
            .ok_or_else(|| unauthorized(Rejection::MalformedSignature))?;
        if let Some(version) = headers.version.single("x-justcall-signature-version")? {
            if version.trim() != "v1" {
                let shown: String = version.chars().take(32).collect();
                return Err(unauthorized(Rejection::UnsupportedVersion(shown)));
            }
        }
        let timestamp = headers
            .timestamp
            .single("x-justcall-request-timestamp")?
            .ok_or_else(|| unauthorized(Rejection::MissingTimestamp))?;
        if let Some(tolerance) = self.tolerance {
            let sent = timestamp::parse(timestamp)
                .ok_or_else(|| unauthorized(Rejection::InvalidTimestamp))?;
            let skew = timestamp::skew(sent, now);
            if skew > tolerance {
                return Err(unauthorized(Rejection::StaleTimestamp { skew, tolerance }));
            }
        }
        Ok((signature, timestamp))
    }

    fn match_signature(
        &self,
        signature: &[u8; 32],
        urls: &[String],
        request_id: &str,
        timestamp: &str,
    ) -> Result<Scheme, RequestError> {
        for url in urls {
            let matched =
                prefix::with_prefixes(self.key_set, &self.keys, url, urls.len(), |prefixes| {
                    prefixes.iter().find_map(|prefix| {
                        prefix.matching_scheme(
                            signature,
                            request_id,
                            timestamp,
                            self.accept_plain_sha256,
                        )
                    })
                });
            if let Some(scheme) = matched {
                return Ok(scheme);
            }
        }
        Err(RequestError::Unauthorized(Rejection::Mismatch {
            urls: urls.to_vec(),
        }))
    }
}

/// The two body fields the gateway reads, each at most once; other fields
/// are checked for syntax and skipped.
#[derive(Default)]
struct Body<'a> {
    request_id: Option<Scalar<'a>>,
    contact_number: Option<Scalar<'a>>,
    /// The first of the two fields that appeared more than once.
    repeated: Option<&'static str>,
}

/// A body field's value, as far as the gateway needs to tell values apart.
/// A string without escapes is borrowed from the body.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Unsigned(u64),
    Null,
    /// Any other number, a boolean, an array or an object.
    Other,
}

impl<'de> serde::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(text)))
            }
            fn visit_u64<E>(self, number: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Unsigned(number))
            }
            fn visit_i64<E>(self, number: i64) -> Result<Scalar<'de>, E> {
                Ok(u64::try_from(number).map_or(Scalar::Other, Scalar::Unsigned))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> Result<Scalar<'de>, A::Error> {
                while items.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut entries: A,
            ) -> Result<Scalar<'de>, A::Error> {
                while entries
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// A body key, compared after JSON escapes are decoded.
enum Field {
    RequestId,
    ContactNumber,
    Other,
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl serde::de::Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(match key {
                    "request_id" => Field::RequestId,
                    "contact_number" => Field::ContactNumber,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Body<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> serde::de::Visitor<'de> for BodyVisitor {
            type Value = Body<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Body<'de>, A::Error> {
                let mut body = Body::default();
                while let Some(field) = map.next_key::<Field>()? {
                    let (slot, name) = match field {
                        Field::RequestId => (&mut body.request_id, "request_id"),
                        Field::ContactNumber => (&mut body.contact_number, "contact_number"),
                        Field::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    let value = map.next_value::<Scalar<'de>>()?;
                    if slot.is_some() {
                        body.repeated.get_or_insert(name);
                    } else {
                        *slot = Some(value);
                    }
                }
                Ok(body)
            }
        }
        deserializer.deserialize_map(BodyVisitor)
    }
}

/// Reads the body in one pass. A field sent twice is rejected rather than
/// resolved, because a proxy in front of the gateway may have read the
/// other copy.
fn parse_body(body: &[u8]) -> Result<Body<'_>, RequestError> {
    let not_json = |error: serde_json::Error| {
        bad_request(
            "body",
            format!(
                "the body is not valid JSON (line {}, column {}); send {{\"request_id\": \"...\", \"contact_number\": \"...\"}}",
                error.line(),
                error.column()
            ),
        )
    };
    let parsed: Body<'_> = serde_json::from_slice(body).map_err(|error| {
        if !error.is_data() {
            return not_json(error);
        }
        // The body is not an object. The message names the object shape only
        // when the body is valid JSON at all.
        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Err(syntax) => not_json(syntax),
            Ok(_) => bad_request(
                "body",
                "the body must be a JSON object: {\"request_id\": \"...\", \"contact_number\": \"...\"}",
            ),
        }
    })?;
    if let Some(field) = parsed.repeated {
        return Err(bad_request(
            field,
            format!("`{field}` appears more than once in the body; send it once"),
        ));
    }
    Ok(parsed)
}

fn required_string<'a>(
    value: Option<Scalar<'a>>,
    field: &'static str,
) -> Result<Cow<'a, str>, RequestError> {
    match value {
        Some(Scalar::Text(value)) if !value.trim().is_empty() => Ok(value),
        Some(Scalar::Text(_)) => Err(bad_request(field, format!("`{field}` is empty"))),
        None | Some(Scalar::Null) => Err(bad_request(field, format!("`{field}` is missing"))),
        Some(_) => Err(bad_request(field, format!("`{field}` must be a string"))),
    }
}

/// Returns the body's `contact_number` as text, or why it cannot be one.
fn contact_number(value: Option<Scalar<'_>>) -> Result<Cow<'_, str>, &'static str> {
    let number = match value {
        None | Some(Scalar::Null) => {
            return Err(
                "`contact_number` is missing; send the caller's number, e.g. \"14155550123\"",
            )
        }
        Some(Scalar::Text(number)) => number,
        Some(Scalar::Unsigned(number)) => Cow::Owned(number.to_string()),
        Some(Scalar::Other) => {
            return Err("`contact_number` must be a string of digits, e.g. \"14155550123\"")
        }
    };
    if number.trim().is_empty() {
        return Err("`contact_number` is empty; send the caller's number, e.g. \"14155550123\"");
    }
    Ok(number)
}

fn bad_request(field: &'static str, message: impl Into<String>) -> RequestError {
    RequestError::BadRequest {
        field,
        message: message.into(),
        verified: None,
    }
}

#[cfg(test)]
impl<'a> UnverifiedRequest<'a> {
    pub(super) fn headers_for_test(&mut self) -> &mut SignatureHeaders<'a> {
        &mut self.headers
    }

    pub(super) fn urls_for_test(&mut self, urls: Vec<String>) {
        self.urls = Cow::Owned(urls);
    }
}
