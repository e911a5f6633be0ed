use std::time::Duration;

/// Why a source could not answer a lookup.
///
/// Messages carry the status and the cause, never a credential, a request URL
/// or the upstream's response body, so they are safe to log as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The source rejected the credentials (HTTP 401 or 403).
    #[error("authentication failed with HTTP {status}; check the source's credentials")]
    Auth { status: u16 },
    /// The source is rate limiting (HTTP 429).
    #[error("rate limited with HTTP 429{}", retry_after_text(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// The source failed on its side (HTTP 5xx).
    #[error("server error HTTP {status}{}", retry_after_text(*.retry_after))]
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The source rejected the request for another reason (any other 4xx).
    #[error("request rejected with HTTP {status}")]
    Rejected { status: u16 },
    /// No complete answer arrived in time.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The connection could not be made or broke before an answer arrived.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The source answered with something that cannot be read.
    #[error("unreadable response: {0}")]
    BadResponse(String),
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(delay) => format!(" (retry after {} ms)", delay.as_millis()),
        None => String::new(),
    }
}

impl LookupError {
    /// Whether trying the same call again later may succeed: timeouts,
    /// connection failures, 5xx and 429 may; authentication failures, other
    /// 4xx and unreadable responses will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LookupError::RateLimited { .. }
                | LookupError::Server { .. }
                | LookupError::Timeout(_)
                | LookupError::Connect(_)
        )
    }

    /// The delay the source asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LookupError::RateLimited { retry_after } | LookupError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// A short, fixed label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            LookupError::Auth { .. } => "auth",
            LookupError::RateLimited { .. } => "rate_limited",
            LookupError::Server { .. } => "server_error",
            LookupError::Rejected { .. } => "rejected",
            LookupError::Timeout(_) => "timeout",
            LookupError::Connect(_) => "connect",
            LookupError::BadResponse(_) => "bad_response",
        }
    }

    /// The upstream HTTP status, when the source answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            LookupError::Auth { status }
            | LookupError::Server { status, .. }
            | LookupError::Rejected { status } => Some(*status),
            LookupError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors() {
        assert!(LookupError::Timeout(Duration::from_millis(5)).is_retryable());
        assert!(LookupError::Connect("refused".into()).is_retryable());
        assert!(LookupError::Server {
            status: 503,
            retry_after: None
        }
        .is_retryable());
        assert!(LookupError::RateLimited { retry_after: None }.is_retryable());
    }

    #[test]
    fn permanent_errors() {
        assert!(!LookupError::Auth { status: 401 }.is_retryable());
        assert!(!LookupError::Rejected { status: 400 }.is_retryable());
        assert!(!LookupError::BadResponse("expected value".into()).is_retryable());
    }

    #[test]
    fn message_names_status_and_delay() {
        let error = LookupError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            error.to_string(),
            "rate limited with HTTP 429 (retry after 2000 ms)"
        );
    }
}
