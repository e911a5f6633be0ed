//! Encoding of a placeholder's value for the part of the request it goes
//! into, so that no value can change the request's shape: add a path
//! segment, a query parameter, a header or a JSON key.
//!
//! Query values need no function here: reqwest's `RequestBuilder::query`
//! form-encodes them (`&`, `=`, `#`, `+` and `%` included). JSON strings are
//! built as `serde_json::Value::String`, never by joining JSON text.

use std::borrow::Cow;

pub(crate) use badgegate_adapter::http::path_segment;
use reqwest::header::HeaderValue;

/// Encodes a query parameter name or value for the lookup trace, with the
/// same character set as [`path_segment`].
pub(crate) fn query_component(value: &str) -> Cow<'_, str> {
    path_segment(value)
}

/// Returns whether a path segment is `.` or `..`, written plainly or with
/// `%2e`. URL parsers (the WHATWG URL standard, which reqwest's `url` crate
/// follows) remove such segments and the one before, so they would change
/// the path the request goes to.
pub(crate) fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
    )
}

/// Checks every segment of a rendered path with [`is_dot_segment`].
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if path.split('/').any(is_dot_segment) {
        return Err(
            "a segment of the path is `.` or `..`, which would change the path the request goes to"
                .to_string(),
        );
    }
    Ok(())
}

/// Returns whether `c` may appear as written in the literal text of a
/// `path` template: RFC 3986 `pchar` characters and `/`. `%` is checked
/// separately, because it must start a `%XX` escape.
pub(crate) fn is_path_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c)
}

/// Builds a header value, rejecting CR, LF, NUL and other control
/// characters, which could end the header and start another.
pub(crate) fn header_value(value: &str) -> Result<HeaderValue, String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("contains a line break or another control character".to_string());
    }
    HeaderValue::from_str(value).map_err(|_| "is not a valid HTTP header value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_detected() {
        for segment in [".", "..", "%2e", "%2E%2e", ".%2E", "%2e."] {
            assert!(is_dot_segment(segment), "{segment}");
        }
        for segment in ["...", "a..", "..a", "%252e%252e", ""] {
            assert!(!is_dot_segment(segment), "{segment}");
        }
        assert!(check_path("/persons/../admin").is_err());
        assert!(check_path("/persons/%2e%2e/admin").is_err());
        assert!(check_path("/persons/x../admin").is_ok());
    }

    #[test]
    fn header_value_rejects_line_breaks() {
        for value in ["a\r\nx-injected: 1", "a\nb", "a\rb", "a\0b"] {
            assert!(header_value(value).is_err(), "{value:?}");
        }
        assert_eq!(header_value("+1 415-555-0123").unwrap(), "+1 415-555-0123");
        assert!(header_value("tab\tseparated").is_ok());
    }
}
