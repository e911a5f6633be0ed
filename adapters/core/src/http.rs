//! HTTP helpers shared by the adapters that call a web API: one way to build
//! the client, to bound a call, to classify a failed status and to read JSON,
//! so every adapter reports upstream errors the same way.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::LookupError;

/// Characters percent-encoded in a path segment: everything except
/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`). `/`, `?`, `#`,
/// `%` and `\` are encoded, so a value stays inside one path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `value` to go inside one path segment of a URL.
pub fn path_segment(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, PATH_SEGMENT).into()
}

/// Returns a configured URL for a message, with any user name and password
/// in it replaced by `***`, so an error about the URL does not print them.
/// Everything between the scheme and the last `@` is hidden, because a
/// password may hold `#`, `?` or `/` and a URL parser then finds no
/// credentials at all.
pub fn without_credentials(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_string();
    };
    let start = match url.find("://") {
        Some(scheme_end) if scheme_end < at => scheme_end + 3,
        _ => 0,
    };
    format!("{}***{}", &url[..start], &url[at..])
}

/// Builds the HTTP client adapters share: rustls, a badgegate user agent, and
/// pooled connections kept for reuse between lookups.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("badgegate/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("the HTTP client settings are fixed and valid")
}

/// Sends a request bounded by `timeout` for the whole exchange, body included,
/// and turns a non-2xx status into the matching [`LookupError`].
pub async fn send(request: RequestBuilder, timeout: Duration) -> Result<Response, LookupError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| classify_transport_error(error, timeout))?;
    check_status(response)
}

/// Reads a JSON body within `timeout`. A body that is not the expected JSON
/// is a [`LookupError::BadResponse`] whose message names the position, never
/// the body's content.
pub async fn read_json<T: DeserializeOwned>(
    response: Response,
    timeout: Duration,
) -> Result<T, LookupError> {
    let bytes = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| LookupError::Timeout(timeout))?
        .map_err(|error| classify_transport_error(error, timeout))?;
    serde_json::from_slice(&bytes).map_err(|error| {
        let cause = match error.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "JSON of an unexpected shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        LookupError::BadResponse(format!(
            "{cause} at line {} column {}",
            error.line(),
            error.column()
        ))
    })
}

/// Maps a status other than 2xx to its [`LookupError`].
pub fn check_status(response: Response) -> Result<Response, LookupError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(response.headers(), Utc::now());
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => LookupError::Auth {
            status: status.as_u16(),
        },
        StatusCode::TOO_MANY_REQUESTS => LookupError::RateLimited { retry_after },
        status if status.is_server_error() => LookupError::Server {
            status: status.as_u16(),
            retry_after,
        },
        status => LookupError::Rejected {
            status: status.as_u16(),
        },
    })
}

/// Parses `Retry-After` as delay seconds or as an HTTP date relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

fn classify_transport_error(error: reqwest::Error, timeout: Duration) -> LookupError {
    if error.is_timeout() {
        return LookupError::Timeout(timeout);
    }
    // The URL may carry a credential in its query, so it is dropped before the
    // error is turned into text.
    let error = error.without_url();
    if error.is_decode() {
        return LookupError::BadResponse(error.to_string());
    }
    if error.is_body() {
        // The connection broke while the body arrived: a retry may succeed.
        return LookupError::Connect(format!(
            "the response body broke off: {}",
            error_chain(&error)
        ));
    }
    LookupError::Connect(error_chain(&error))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn path_segment_encodes_everything_but_unreserved() {
        let cases = [
            ("+14155550123", "%2B14155550123"),
            ("(415) 555-0123", "%28415%29%20555-0123"),
            ("a/b", "a%2Fb"),
            ("a?b#c", "a%3Fb%23c"),
            ("%2F", "%252F"),
            ("a&b=c", "a%26b%3Dc"),
            ("\"quoted\"", "%22quoted%22"),
            ("back\\slash", "back%5Cslash"),
            ("../..", "..%2F.."),
            ("unreserved-._~", "unreserved-._~"),
        ];
        for (value, expected) in cases {
            assert_eq!(path_segment(value), expected, "{value}");
        }
    }

    #[test]
    fn credentials_hidden_in_urls() {
        let cases = [
            (
                "http://user:tok3n@127.0.0.1:8000/api",
                "http://***@127.0.0.1:8000/api",
            ),
            ("https://:tok3n@crm.example", "https://***@crm.example"),
            ("https://crm.example/api", "https://crm.example/api"),
            ("ht!tp://user:tok3n@host", "ht!tp://***@host"),
            ("user:tok3n@host", "***@host"),
            (
                "https://user:#Pw0rd@api.example.com",
                "https://***@api.example.com",
            ),
            ("u:Pw0rdSecret@host/?r=http://x", "***@host/?r=http://x"),
        ];
        for (url, shown) in cases {
            assert_eq!(without_credentials(url), shown, "{url}");
        }
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            retry_after(&headers, Utc::now()),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn retry_after_http_date() {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Fri, 04 Dec 2026 10:00:05 GMT"),
        );
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, Utc::now()), None);
    }
}
