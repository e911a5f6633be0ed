//! Credentials never show in `Debug` output, the lookup trace or errors.
//! `logs.rs` checks log lines.

mod common;

use std::time::Duration;

use badgegate_adapter::Adapter;
use badgegate_rest::RestAdapter;
use common::{adapter, query, SEARCH_PATH};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "secret-value-4be19f0c";

/// Builds one `auth` table of each type, each with [`SECRET`] as its
/// credential.
fn auths(server: &MockServer) -> Vec<Value> {
    let token_url = format!("{}/oauth/token", server.uri());
    vec![
        json!({"type": "bearer", "token": SECRET}),
        json!({"type": "basic", "username": "user", "password": SECRET}),
        json!({"type": "header", "name": "x-api-token", "value": SECRET}),
        json!({"type": "query", "name": "api_token", "value": SECRET}),
        json!({
            "type": "oauth2_client_credentials",
            "token_url": token_url,
            "client_id": "client-1",
            "client_secret": SECRET,
            "extra": {"assertion": SECRET},
        }),
        json!({
            "type": "oauth2_refresh_token",
            "token_url": token_url,
            "client_id": "client-1",
            "client_secret": SECRET,
            "refresh_token": SECRET,
        }),
    ]
}

async fn mock_api(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRET,
            "expires_in": 3600,
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn debug_output_hides_credentials() {
    let server = MockServer::start().await;
    mock_api(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"data": []})),
    )
    .await;
    for auth in auths(&server) {
        let adapter = RestAdapter::from_options(
            common::context(Duration::from_secs(5)),
            common::options(&server, json!({"auth": auth})),
        )
        .unwrap();
        adapter.start().await.unwrap();
        adapter.find(&query(2_000)).await.unwrap();

        let printed = format!("{adapter:?}");

        assert!(!printed.contains(SECRET), "{printed}");
        assert!(printed.contains("RestAdapter"), "{printed}");
    }
}

#[tokio::test]
async fn trace_redacts_credentials() {
    let server = MockServer::start().await;
    mock_api(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"data": []})),
    )
    .await;
    for auth in auths(&server) {
        let kind = auth["type"].as_str().unwrap().to_string();
        let adapter = adapter(
            &server,
            json!({"auth": auth, "headers": {"x-tenant": "acme"}}),
        );
        let query = query(2_000).traced();

        adapter.find(&query).await.unwrap();

        let requests = query.recorded_requests("rest-test");
        assert_eq!(requests.len(), 1, "{kind}");
        let request = &requests[0];
        assert!(!request.contains(SECRET), "{kind}: {request}");
        assert!(
            request.starts_with("GET http://127.0.0.1:"),
            "{kind}: {request}"
        );
        assert!(
            request.contains("/v1/contacts/search?phone=%2B14155550123"),
            "{kind}: {request}"
        );
        assert!(
            request.contains("x-tenant: [redacted]"),
            "{kind}: {request}"
        );
        assert!(request.contains("[redacted]"), "{kind}: {request}");
        if kind == "query" {
            assert!(request.contains("&api_token=[redacted]"), "{request}");
        }
    }
}

#[tokio::test]
async fn errors_hide_credentials_and_body() {
    let server = MockServer::start().await;
    mock_api(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"data": [{"note": SECRET}]})),
    )
    .await;
    for auth in auths(&server) {
        let adapter = adapter(&server, json!({"auth": auth}));

        let error = adapter.find(&query(2_000)).await.unwrap_err();

        let printed = format!("{error} {error:?}");
        assert!(!printed.contains(SECRET), "{printed}");
    }
}
