//! Each auth type against a mock API: the credential every request carries,
//! and the OAuth flows' shared token, refresh and retry after HTTP 401.

mod common;

use badgegate_adapter::LookupError;
use common::{adapter, query, record, SEARCH_PATH};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN_PATH: &str = "/oauth/token";
const CLIENT_SECRET: &str = "client-secret-3c9e7b21";
const REFRESH_TOKEN: &str = "refresh-token-7a41d0e5";

fn found() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"data": [record(501, "Ada", "(415) 555-0123")]}))
}

fn token_response(access_token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
}

fn client_credentials(server: &MockServer, extra: Value) -> Value {
    let mut auth = json!({
        "type": "oauth2_client_credentials",
        "token_url": format!("{}{TOKEN_PATH}", server.uri()),
        "client_id": "client-1",
        "client_secret": CLIENT_SECRET,
    });
    auth.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"auth": auth})
}

#[tokio::test]
async fn static_credentials_are_sent() {
    let cases = [
        (
            json!({"type": "basic", "username": "api-user", "password": "pw-1"}),
            ("authorization", "Basic YXBpLXVzZXI6cHctMQ=="),
        ),
        (
            json!({"type": "header", "name": "X-Api-Token", "value": "key-1"}),
            ("x-api-token", "key-1"),
        ),
        (
            json!({"type": "bearer", "token": "token-1"}),
            ("authorization", "Bearer token-1"),
        ),
    ];
    for (auth, (name, value)) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(SEARCH_PATH))
            .and(header(name, value))
            .respond_with(found())
            .expect(1)
            .mount(&server)
            .await;

        let contacts = adapter(&server, json!({"auth": auth}))
            .find(&query(2_000))
            .await
            .unwrap();

        assert_eq!(contacts.len(), 1, "{name}");
    }
}

#[tokio::test]
async fn query_credential_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("api_token", "key-2"))
        .and(query_param("phone", "+14155550123"))
        .respond_with(found())
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        json!({"auth": {"type": "query", "name": "api_token", "value": "key-2"}}),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(contacts.len(), 1);
}

#[tokio::test]
async fn no_auth_sends_no_authorization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(found())
        .expect(1)
        .mount(&server)
        .await;

    adapter(&server, json!({"auth": {"type": "none"}}))
        .find(&query(2_000))
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert!(!requests[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn client_credentials_token_is_shared() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=client-1"))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .and(body_string_contains("scope=contacts.read"))
        .and(body_string_contains("audience=crm-api"))
        .respond_with(token_response("access-1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(found())
        .expect(3)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        client_credentials(
            &server,
            json!({"scope": "contacts.read", "extra": {"audience": "crm-api"}}),
        ),
    );

    adapter.start().await.unwrap();
    for _ in 0..3 {
        let contacts = adapter.find(&query(2_000)).await.unwrap();
        assert_eq!(contacts.len(), 1);
    }
}

#[tokio::test]
async fn refresh_token_flow_with_custom_scheme() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!(
            "refresh_token={REFRESH_TOKEN}"
        )))
        .and(body_string_contains("client_id=client-1"))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(token_response("access-2"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Zoho-oauthtoken access-2"))
        .respond_with(found())
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        json!({"auth": {
            "type": "oauth2_refresh_token",
            "token_url": format!("{}{TOKEN_PATH}", server.uri()),
            "client_id": "client-1",
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "scheme": "Zoho-oauthtoken",
        }}),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(contacts.len(), 1);
}

#[tokio::test]
async fn rejected_token_is_replaced_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_response("expired-1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_response("fresh-2"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer expired-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer fresh-2"))
        .respond_with(found())
        .expect(2)
        .mount(&server)
        .await;
    let adapter = adapter(&server, client_credentials(&server, json!({})));

    let first = adapter.find(&query(2_000)).await.unwrap();
    let second = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
}

#[tokio::test]
async fn second_rejection_is_auth_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_response("access-3"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let adapter = adapter(&server, client_credentials(&server, json!({})));

    let error = adapter.find(&query(2_000)).await.unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 401 });
}

#[tokio::test]
async fn rejected_client_is_auth_failure_without_search() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("client secret {CLIENT_SECRET} is wrong"),
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(found())
        .expect(0)
        .mount(&server)
        .await;
    let adapter = adapter(&server, client_credentials(&server, json!({})));

    let error = adapter.find(&query(2_000)).await.unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 400 });
    assert!(!error.to_string().contains(CLIENT_SECRET), "{error}");
}

#[tokio::test]
async fn static_auth_401_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;

    let error = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 401 });
}
