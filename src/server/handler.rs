//! The JustCall endpoint: read the body within its limit, verify, parse the
//! number, look it up, answer.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::header::HeaderName;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::client_limit::client_address;
use super::response::{self, ErrorCode};
use super::url;
use crate::app::App;
use crate::clock;
use crate::logging::AnsweredLine;
use crate::lookup::Outcome;
use crate::signature::{
    HeaderValues, Rejection, RequestError, SignatureHeaders, UnverifiedRequest,
};
use crate::telemetry::{self, RequestCounts};

pub async fn contact_badge(request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let started = Instant::now();
    // The request's span is at debug level. At info each request writes one
    // line, and an enabled span would add about a microsecond to each. Lines
    // at info and above about a verified request carry its `request_id` as a
    // field instead.
    let span = tracing::debug_span!("badge_request", request_id = tracing::field::Empty);
    let mut counts = RequestCounts::default();
    let mut answered = None;
    let (outcome, response) = answer(
        request,
        payload,
        started,
        span.clone(),
        &mut counts,
        &mut answered,
    )
    .instrument(span)
    .await;
    let answered = answered.unwrap_or_else(Instant::now);
    telemetry::request_answered(outcome, counts, answered.saturating_duration_since(started));
    response
}

/// Answers one request, returning the outcome label for the metrics with
/// the response, and filling in what else the metrics count and, once the
/// lookup has finished, the time it finished. The request keeps the config it started
/// with, even if a reload replaces it meanwhile.
async fn answer(
    request: HttpRequest,
    payload: web::Payload,
    started: Instant,
    span: tracing::Span,
    counts: &mut RequestCounts,
    answered: &mut Option<Instant>,
) -> (&'static str, HttpResponse) {
    // Borrowed rather than extracted as a handler argument: the extractor
    // clones the `Data`, an atomic operation on a count every worker shares.
    let runtime = request
        .app_data::<web::Data<Arc<App>>>()
        .expect("the badge endpoint is registered with the app's data")
        .current();
    let justcall = &runtime.settings.justcall;
    let server = &runtime.settings.server;
    if let Some(limiter) = &runtime.client_limiter {
        if let Some(client) = client_address(&request, justcall.trust_forwarded_headers) {
            if let Err(wait) = limiter.check(client) {
                tracing::warn!(
                    reason = "rate_limited",
                    "rejected a request: the client sent too many requests"
                );
                let retry_after = wait.as_secs() + 1;
                let (outcome, mut response) = rejected(
                    ErrorCode::RateLimited,
                    format!("more than {} requests per second from this address; retry after {retry_after} s", server.rate_limit_per_ip.unwrap_or_default()),
                );
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(retry_after),
                );
                return (outcome, response);
            }
        }
    }
    // actix calls the handler before it feeds the body to the payload, so
    // the first read would wait and arm the client-timeout timer, which
    // costs more than the rest of reading a small body. One yield lets
    // actix feed a body that has already arrived; a slow body still meets
    // the timeout below.
    tokio::task::yield_now().await;
    let read = read_body(&request, payload, server.max_body_bytes);
    let body = match tokio::time::timeout_at(started + server.client_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) => return rejection,
        Err(_) => {
            tracing::warn!(
                reason = "request_timeout",
                "rejected a request: the body did not arrive in time"
            );
            return rejected(
                ErrorCode::RequestTimeout,
                format!(
                    "the body did not arrive within {} ms",
                    server.client_timeout.as_millis()
                ),
            );
        }
    };
    let rebuilt: [String; 1];
    let urls: &[String] = if justcall.public_urls.is_empty() {
        rebuilt = [url::rebuild(&request, justcall.trust_forwarded_headers)];
        &rebuilt
    } else {
        &justcall.public_urls
    };
    let unverified = UnverifiedRequest::new(signature_headers(&request), &body, urls);

    // Read once the body is in, so that a client that sends its body slowly
    // cannot stretch the timestamp window or the ages of cached answers.
    let received = Instant::now();
    let received_at = DateTime::<Utc>::from(clock::wall_time(received.into_std()));
    let verified = match runtime.verifier.verify(unverified, received_at) {
        Ok(verified) => verified,
        Err(RequestError::Unauthorized(rejection)) => {
            match &rejection {
                Rejection::Mismatch { urls } => tracing::warn!(
                    reason = rejection.reason(),
                    urls = ?urls,
                    "rejected a request: the signature does not match any secret for these URLs; \
                     a proxy that rewrites the URL is the usual cause, so set justcall.public_urls \
                     to the URL entered in JustCall"
                ),
                _ => tracing::warn!(
                    reason = rejection.reason(),
                    "rejected a request: {rejection}"
                ),
            }
            return rejected(ErrorCode::Unauthorized, rejection.to_string());
        }
        Err(RequestError::BadRequest {
            field,
            message,
            verified,
        }) => {
            counts.scheme = verified.as_ref().map(|verified| verified.scheme.label());
            tracing::warn!(
                reason = "bad_request",
                field,
                request_id = verified
                    .as_ref()
                    .map(|verified| verified.request_id.as_str()),
                "rejected a request: {message}"
            );
            return rejected(ErrorCode::BadRequest, message);
        }
    };
    // The request's own span, passed in, because looking up the current span
    // queries the subscriber even when the span is disabled.
    span.record("request_id", verified.request_id());
    counts.scheme = Some(verified.scheme().label());

    let caller = match runtime.lookup.parse_caller(verified.contact_number()) {
        Ok(caller) => caller,
        Err(error) => {
            let message =
                format!("`contact_number` {error}; send the caller's number, e.g. \"14155550123\"");
            tracing::warn!(
                reason = "bad_request",
                field = "contact_number",
                request_id = verified.request_id(),
                "rejected a request: {message}"
            );
            return rejected(ErrorCode::BadRequest, message);
        }
    };

    let result = runtime
        .lookup
        .find_at(&caller, verified.request_id(), started, received)
        .await;
    counts.cache = Some(result.cache.label());
    let finished = Instant::now();
    *answered = Some(finished);
    if AnsweredLine::enabled() {
        let source = match &result.outcome {
            Outcome::Found(badge) => badge.source(),
            _ => "",
        };
        AnsweredLine {
            request_id: verified.request_id(),
            outcome: result.outcome.label(),
            source,
            cache: result.cache.label(),
            number: caller.masked_view(),
            scheme: verified.scheme().label(),
            // Whole microseconds, so the line reads `0.016` rather than
            // `0.0048779999999999995`.
            latency_ms: finished.saturating_duration_since(started).as_micros() as f64 / 1000.0,
            answered_at: finished.into_std(),
        }
        .log(&span);
    }
    let response = match &result.outcome {
        Outcome::Found(badge) => response::badge(badge),
        Outcome::NotFound => response::error(ErrorCode::NotFound, "no contact matches this number"),
        Outcome::Unavailable(_) => response::error(
            ErrorCode::UpstreamUnavailable,
            "the contact sources could not answer in time",
        ),
    };
    (result.outcome.label(), response)
}

fn rejected(code: ErrorCode, message: impl Into<String>) -> (&'static str, HttpResponse) {
    (code.as_str(), response::error(code, message))
}

/// Reads the body, answering 413 as soon as it is known to exceed the limit.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, (&'static str, HttpResponse)> {
    let too_large = || {
        tracing::warn!(
            reason = "payload_too_large",
            limit,
            "rejected a request: the body is too large"
        );
        rejected(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(256).min(limit as u64) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            tracing::warn!(reason = "bad_request", %error, "rejected a request: the body could not be read");
            rejected(ErrorCode::BadRequest, "the body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

const SIGNATURE: HeaderName = HeaderName::from_static("x-justcall-signature");
const SIGNATURE_VERSION: HeaderName = HeaderName::from_static("x-justcall-signature-version");
const REQUEST_TIMESTAMP: HeaderName = HeaderName::from_static("x-justcall-request-timestamp");

fn signature_headers(request: &HttpRequest) -> SignatureHeaders<'_> {
    let all = |name: &HeaderName| -> HeaderValues<'_> {
        request
            .headers()
            .get_all(name)
            .map(|value| match value.to_str() {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(value.as_bytes()),
            })
            .collect()
    };
    SignatureHeaders {
        signature: all(&SIGNATURE),
        version: all(&SIGNATURE_VERSION),
        timestamp: all(&REQUEST_TIMESTAMP),
    }
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn method_not_allowed() -> HttpResponse {
    response::error(
        ErrorCode::MethodNotAllowed,
        "this endpoint accepts POST only",
    )
}

pub async fn unknown_path() -> HttpResponse {
    response::error(ErrorCode::UnknownPath, "no endpoint at this path")
}
