//! Failed searches: each upstream failure maps to its `LookupError`, and the
//! error's message never contains the token.

mod common;

use std::time::Duration;

use badgegate_adapter::LookupError;
use common::{adapter, error_body, query, SEARCH_PATH, TOKEN};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn search_error(response: ResponseTemplate, query_millis: u64) -> LookupError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    adapter(&server, json!({}))
        .find(&query(query_millis))
        .await
        .expect_err("the search must fail")
}

fn rate_limit_body() -> serde_json::Value {
    json!({
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "0c1b2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
        "policyName": "SECONDLY",
    })
}

#[tokio::test]
async fn unauthorized_is_auth_error() {
    let response = ResponseTemplate::new(401).set_body_json(error_body(
        "Authentication credentials not found.",
        "INVALID_AUTHENTICATION",
    ));
    let error = search_error(response, 2_000).await;
    assert_eq!(error, LookupError::Auth { status: 401 });
}

#[tokio::test]
async fn forbidden_is_auth_error() {
    let response = ResponseTemplate::new(403).set_body_json(error_body(
        "This app hasn't been granted all required scopes to make this call.",
        "MISSING_SCOPES",
    ));
    let error = search_error(response, 2_000).await;
    assert_eq!(error, LookupError::Auth { status: 403 });
}

#[tokio::test]
async fn rate_limit_with_retry_after() {
    let response = ResponseTemplate::new(429)
        .insert_header("Retry-After", "2")
        .set_body_json(rate_limit_body());
    let error = search_error(response, 2_000).await;
    assert_eq!(
        error,
        LookupError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
    );
}

#[tokio::test]
async fn rate_limit_without_retry_after() {
    let response = ResponseTemplate::new(429).set_body_json(rate_limit_body());
    let error = search_error(response, 2_000).await;
    assert_eq!(error, LookupError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn server_error_is_server() {
    let response = ResponseTemplate::new(500).set_body_json(json!({
        "status": "error",
        "message": "internal error",
        "correlationId": "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
    }));
    let error = search_error(response, 2_000).await;
    assert!(
        matches!(error, LookupError::Server { status: 500, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_request_is_rejected() {
    let response = ResponseTemplate::new(400).set_body_json(error_body(
        "There was a problem with the request.",
        "VALIDATION_ERROR",
    ));
    let error = search_error(response, 2_000).await;
    assert_eq!(error, LookupError::Rejected { status: 400 });
}

#[tokio::test]
async fn malformed_json_is_bad_response() {
    let response = ResponseTemplate::new(200)
        .set_body_raw(r#"{"total": 1, "results": [{"id": "#, "application/json");
    let error = search_error(response, 2_000).await;
    assert!(matches!(error, LookupError::BadResponse(_)), "{error:?}");
}

#[tokio::test]
async fn unexpected_shape_is_bad_response() {
    let response =
        ResponseTemplate::new(200).set_body_json(json!({"total": 1, "results": [{"id": 501}]}));
    let error = search_error(response, 2_000).await;
    assert!(matches!(error, LookupError::BadResponse(_)), "{error:?}");
}

#[tokio::test]
async fn slow_response_times_out() {
    let response = ResponseTemplate::new(200)
        .set_body_json(json!({"total": 0, "results": []}))
        .set_delay(Duration::from_secs(3));
    let started = tokio::time::Instant::now();

    let error = search_error(response, 300).await;

    assert!(matches!(error, LookupError::Timeout(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn error_display_hides_token() {
    let cases = [
        ResponseTemplate::new(401).set_body_json(error_body(TOKEN, "INVALID_AUTHENTICATION")),
        ResponseTemplate::new(429).set_body_json(rate_limit_body()),
        ResponseTemplate::new(500).set_body_string(TOKEN),
        ResponseTemplate::new(200)
            .set_body_raw(format!("{{\"x\": \"{TOKEN}\""), "application/json"),
    ];
    for response in cases {
        let error = search_error(response, 2_000).await;
        let printed = format!("{error} {error:?}");
        assert!(!printed.contains(TOKEN), "{printed}");
    }
}
