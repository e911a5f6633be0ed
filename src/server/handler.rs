//! The JustCall endpoint: read the body within its limit, verify, parse the
//! number, look it up, answer.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use badgegate_adapter::phone::parse_caller;
use chrono::Utc;
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::response::{self, ErrorCode};
use super::url;
use crate::lookup::{Lookup, Outcome};
use crate::signature::{Rejection, RequestError, SignatureHeaders, UnverifiedRequest, Verifier};

/// What every request handler shares.
pub struct AppState {
    pub verifier: Verifier,
    pub lookup: Arc<Lookup>,
    pub public_urls: Vec<String>,
    pub trust_forwarded_headers: bool,
    pub max_body_bytes: usize,
}

pub async fn contact_badge(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let span = tracing::info_span!("badge_request", request_id = tracing::field::Empty);
    answer(request, payload, state, started)
        .instrument(span)
        .await
}

async fn answer(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    started: Instant,
) -> HttpResponse {
    let body = match read_body(&request, payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let urls = if state.public_urls.is_empty() {
        vec![url::rebuild(&request, state.trust_forwarded_headers)]
    } else {
        state.public_urls.clone()
    };
    let unverified = UnverifiedRequest::new(signature_headers(&request), body, urls);

    let verified = match state.verifier.verify(unverified, Utc::now()) {
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
            return response::error(ErrorCode::Unauthorized, rejection.to_string());
        }
        Err(RequestError::BadRequest { field, message }) => {
            tracing::warn!(
                reason = "bad_request",
                field,
                "rejected a request: {message}"
            );
            return response::error(ErrorCode::BadRequest, message);
        }
    };
    tracing::Span::current().record("request_id", verified.request_id());

    let caller = match parse_caller(verified.contact_number(), state.lookup.region()) {
        Ok(caller) => caller,
        Err(error) => {
            let message =
                format!("`contact_number` {error}; send the caller's number, e.g. \"14155550123\"");
            tracing::warn!(
                reason = "bad_request",
                field = "contact_number",
                "rejected a request: {message}"
            );
            return response::error(ErrorCode::BadRequest, message);
        }
    };

    let result = state
        .lookup
        .find(&caller, verified.request_id(), started)
        .await;
    let source = match &result.outcome {
        Outcome::Found(badge) => badge.source.as_str(),
        _ => "",
    };
    tracing::info!(
        outcome = result.outcome.label(),
        source,
        cache = result.cache.label(),
        number = %caller.masked(),
        scheme = verified.scheme().label(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "answered"
    );
    match &result.outcome {
        Outcome::Found(badge) => response::badge(badge),
        Outcome::NotFound => response::error(ErrorCode::NotFound, "no contact matches this number"),
        Outcome::Unavailable(_) => response::error(
            ErrorCode::UpstreamUnavailable,
            "the contact sources could not answer in time",
        ),
    }
}

/// Reads the body, answering 413 as soon as it is known to exceed the limit.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, HttpResponse> {
    let too_large = || {
        tracing::warn!(
            reason = "payload_too_large",
            limit,
            "rejected a request: the body is too large"
        );
        response::error(
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
            response::error(ErrorCode::BadRequest, "the body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn signature_headers(request: &HttpRequest) -> SignatureHeaders {
    let all = |name: &str| -> Vec<String> {
        request
            .headers()
            .get_all(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect()
    };
    SignatureHeaders {
        signature: all("x-justcall-signature"),
        version: all("x-justcall-signature-version"),
        timestamp: all("x-justcall-request-timestamp"),
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
