//! Failed searches: an expired session is recovered with one new token and
//! one retry, and every other failure maps to its `LookupError`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::LookupError;
use common::{
    adapter, api_error, mount_search, mount_token, query, record, search_response, session_expired,
    token_response, TOKEN_PATH,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn one_contact() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(search_response(vec![record(
        "Contact",
        "0035e00000AbCdEAAZ",
        "Ada Lovelace",
        Some("(415) 555-0123"),
        "2025-01-15T08:30:00.000+0000",
    )]))
}

/// Mounts a token endpoint that returns `token-1` on its first call and
/// `token-2` on its second, each exactly once.
async fn mount_two_tokens(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_response(server, "token-1")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_response(server, "token-2")))
        .expect(1)
        .with_priority(2)
        .mount(server)
        .await;
}

/// Runs one lookup against a search that responds with `response`, with a
/// token endpoint that must be called once.
async fn search_error(response: ResponseTemplate) -> LookupError {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    mount_search(&server, "token-1", response, 1).await;
    adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .expect_err("the search must fail")
}

#[tokio::test]
async fn expired_session_gets_one_new_token() {
    let server = MockServer::start().await;
    mount_two_tokens(&server).await;
    mount_search(&server, "token-1", session_expired(), 1).await;
    mount_search(&server, "token-2", one_contact(), 1).await;

    let contacts = adapter(&server, json!({}))
        .find(&query(3_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].id, "0035e00000AbCdEAAZ");
}

#[tokio::test]
async fn second_401_gives_up() {
    let server = MockServer::start().await;
    mount_two_tokens(&server).await;
    mount_search(&server, "token-1", session_expired(), 1).await;
    mount_search(&server, "token-2", session_expired(), 1).await;

    let error = adapter(&server, json!({}))
        .find(&query(3_000))
        .await
        .unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 401 });
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn concurrent_expiry_fetches_one_token() {
    let server = MockServer::start().await;
    mount_two_tokens(&server).await;
    // Half of the 401s arrive after the new token is cached. Discarding it
    // then would make a third token request.
    let calls = Arc::new(AtomicUsize::new(0));
    let delayed_expiry = move |_: &Request| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        let delay = if call < 5 { 0 } else { 300 };
        session_expired().set_delay(Duration::from_millis(delay))
    };
    mount_search(&server, "token-1", delayed_expiry, 10).await;
    mount_search(&server, "token-2", one_contact(), 10).await;
    let adapter = adapter(&server, json!({}));
    adapter.start().await.unwrap();

    let lookups: Vec<_> = (0..10)
        .map(|_| {
            let adapter = adapter.clone();
            tokio::spawn(async move { adapter.find(&query(3_000)).await })
        })
        .collect();
    for lookup in lookups {
        let contacts = lookup.await.unwrap().unwrap();
        assert_eq!(contacts.len(), 1);
    }
}

#[tokio::test]
async fn later_lookups_keep_new_token() {
    let server = MockServer::start().await;
    mount_two_tokens(&server).await;
    mount_search(&server, "token-1", session_expired(), 1).await;
    mount_search(&server, "token-2", one_contact(), 3).await;
    let adapter = adapter(&server, json!({}));

    for _ in 0..3 {
        adapter.find(&query(3_000)).await.unwrap();
    }
}

#[tokio::test]
async fn request_limit_is_rate_limited() {
    let response = ResponseTemplate::new(403).set_body_json(api_error(
        "TotalRequests Limit exceeded.",
        "REQUEST_LIMIT_EXCEEDED",
    ));
    let error = search_error(response).await;
    assert_eq!(error, LookupError::RateLimited { retry_after: None });
    assert!(error.is_retryable());
}

#[tokio::test]
async fn other_forbidden_is_auth_error() {
    let response = ResponseTemplate::new(403).set_body_json(api_error(
        "The REST API is not enabled for this Organization.",
        "API_DISABLED_FOR_ORG",
    ));
    let error = search_error(response).await;
    assert_eq!(error, LookupError::Auth { status: 403 });
}

#[tokio::test]
async fn forbidden_without_body_is_auth_error() {
    let error = search_error(ResponseTemplate::new(403)).await;
    assert_eq!(error, LookupError::Auth { status: 403 });
}

#[tokio::test]
async fn invalid_field_is_rejected() {
    let response = ResponseTemplate::new(400).set_body_json(api_error(
        "No such column 'MobilePhone' on entity 'Account'.",
        "INVALID_FIELD",
    ));
    let error = search_error(response).await;
    assert_eq!(error, LookupError::Rejected { status: 400 });
}

#[tokio::test]
async fn server_error_is_server() {
    let response = ResponseTemplate::new(503).insert_header("Retry-After", "3");
    let error = search_error(response).await;
    assert_eq!(
        error,
        LookupError::Server {
            status: 503,
            retry_after: Some(Duration::from_secs(3)),
        }
    );
}

#[tokio::test]
async fn unexpected_shape_is_bad_response() {
    let response = ResponseTemplate::new(200).set_body_json(json!([{"Id": "003"}]));
    let error = search_error(response).await;
    assert!(matches!(error, LookupError::BadResponse(_)), "{error:?}");
}

#[tokio::test]
async fn slow_search_times_out() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    mount_search(
        &server,
        "token-1",
        one_contact().set_delay(Duration::from_secs(3)),
        1,
    )
    .await;
    let started = tokio::time::Instant::now();

    let error = adapter(&server, json!({}))
        .find(&query(300))
        .await
        .unwrap_err();

    assert!(matches!(error, LookupError::Timeout(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn token_endpoint_down_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;

    let error = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap_err();

    assert!(
        matches!(error, LookupError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}
