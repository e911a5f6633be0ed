//! The JustCall endpoint's one response shape, and the table from error code
//! to HTTP status.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

use crate::lookup::Badge;

/// Every error code a response can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Bad or missing signature, stale timestamp or unknown version.
    Unauthorized,
    /// Malformed body or a missing or invalid field.
    BadRequest,
    /// The body is larger than `server.max_body_bytes`.
    PayloadTooLarge,
    /// The client did not send its request within `server.client_timeout_ms`.
    RequestTimeout,
    /// The client sent more than `server.rate_limit_per_ip` requests per second.
    RateLimited,
    /// No record matches the caller's number.
    NotFound,
    /// Every source failed, or the deadline passed.
    UpstreamUnavailable,
    /// No endpoint at this path.
    UnknownPath,
    /// The endpoint exists but not for this method.
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            // JustCall only needs to know there is no badge.
            ErrorCode::NotFound | ErrorCode::UpstreamUnavailable => StatusCode::OK,
            ErrorCode::UnknownPath => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::UnknownPath => "unknown_path",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }
}

/// `{"success": false, "error": {"code": ..., "message": ...}}` with the
/// code's status.
pub fn error(code: ErrorCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(code.status()).json(json!({
        "success": false,
        "error": {"code": code.as_str(), "message": message.into()},
    }))
}

/// `{"success": true, "data": {...}}` with the badge's fields.
pub fn badge(badge: &Badge) -> HttpResponse {
    // Sized for the badge up front, so that it is written without growing.
    let fields = badge.contact_name().len()
        + badge.contact_profile_link().len()
        + badge.contact_email().map_or(0, str::len);
    let mut body = Vec::with_capacity(BADGE_ENVELOPE_BYTES + fields);
    body.extend_from_slice(b"{\"success\":true,\"data\":");
    badge.write_json(&mut body);
    body.push(b'}');
    // A static header value: actix's JSON helper converts a `mime` type,
    // which copies the text into a new allocation on every response.
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}

/// The bytes of a badge response besides its field values, with a few to
/// spare for escapes.
const BADGE_ENVELOPE_BYTES: usize = 96;
