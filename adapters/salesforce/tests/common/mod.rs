//! Helpers shared by the Salesforce adapter tests: a source context, options
//! that point the adapter at a mock server, queries, and token and search
//! responses in the shapes Salesforce's API returns.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{Adapter, AdapterFactory, BuildError, Query, SourceContext};
use badgegate_salesforce::SalesforceFactory;
use serde_json::{json, Value};
use tokio::time::Instant;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str = "3MVG9test.consumer.key";
pub const CLIENT_SECRET: &str = "8f2a91c4d7e6b5a3918273645566778899aabbccddeeff00";
pub const REFRESH_TOKEN: &str = "5Aep861TSESvWeug_test_refresh_token";
pub const USERNAME: &str = "integration@acme.example";
pub const TOKEN_PATH: &str = "/services/oauth2/token";
pub const SEARCH_PATH: &str = "/services/data/v62.0/search/";

/// Returns the folder of the test-only RSA key pair.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn context(timeout: Duration) -> SourceContext {
    SourceContext {
        name: "salesforce-test".to_string(),
        timeout,
        default_region: "US".parse().unwrap(),
        config_dir: fixtures_dir(),
        http: badgegate_adapter::http::client(),
    }
}

/// Options for the client credentials flow against `server`, with `extra`
/// keys added.
pub fn options(server: &MockServer, extra: Value) -> Value {
    let mut options = json!({
        "auth": {
            "type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        "login_url": server.uri(),
    });
    if let Value::Object(extra) = extra {
        options.as_object_mut().unwrap().extend(extra);
    }
    options
}

/// Builds an adapter through the factory, with a 5 s source timeout.
pub fn build(options: Value) -> Arc<dyn Adapter> {
    SalesforceFactory
        .build(context(Duration::from_secs(5)), options)
        .expect("the test options are valid")
}

/// Builds an adapter for the client credentials flow against `server`.
pub fn adapter(server: &MockServer, extra: Value) -> Arc<dyn Adapter> {
    build(options(server, extra))
}

pub fn build_error(options: Value) -> BuildError {
    match SalesforceFactory.build(context(Duration::from_secs(1)), options) {
        Ok(_) => panic!("the options were accepted"),
        Err(error) => error,
    }
}

/// Builds a lookup of +1 415-555-0123 with a deadline `millis` from now.
pub fn query(millis: u64) -> Query {
    let caller = parse_caller("14155550123", "US".parse().unwrap()).unwrap();
    Query::new(
        caller,
        Instant::now() + Duration::from_millis(millis),
        "req-1",
    )
}

/// Builds Salesforce's token response, which has no `expires_in`, with
/// `server` as the org's `instance_url`.
pub fn token_response(server: &MockServer, access_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "instance_url": server.uri(),
        "id": "https://login.salesforce.com/id/00D5e000000TEST/0055e000000TEST",
        "token_type": "Bearer",
        "issued_at": "1733300000000",
        "signature": "dGVzdCBzaWduYXR1cmU=",
        "scope": "api",
    })
}

/// Mounts a token endpoint that returns `access_token` and must be called
/// `expected_calls` times.
pub async fn mount_token(server: &MockServer, access_token: &str, expected_calls: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_response(server, access_token)),
        )
        .expect(expected_calls)
        .mount(server)
        .await;
}

/// Mounts a search that responds with `response` to requests bearing
/// `access_token` and must be called `expected_calls` times.
pub async fn mount_search(
    server: &MockServer,
    access_token: &str,
    response: impl Respond + 'static,
    expected_calls: u64,
) {
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", format!("Bearer {access_token}")))
        .respond_with(response)
        .expect(expected_calls)
        .mount(server)
        .await;
}

/// Builds a search response with `records`.
pub fn search_response(records: Vec<Value>) -> Value {
    json!({ "searchRecords": records })
}

/// Builds a search record. Salesforce sends `null` for every requested but
/// empty field.
pub fn record(object: &str, id: &str, name: &str, phone: Option<&str>, modified: &str) -> Value {
    json!({
        "attributes": {
            "type": object,
            "url": format!("/services/data/v62.0/sobjects/{object}/{id}"),
        },
        "Id": id,
        "Name": name,
        "Email": null,
        "Phone": phone,
        "MobilePhone": null,
        "LastModifiedDate": modified,
    })
}

/// Builds Salesforce's error body for a rejected API request.
pub fn api_error(message: &str, error_code: &str) -> Value {
    json!([{ "message": message, "errorCode": error_code }])
}

pub fn session_expired() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(api_error(
        "Session expired or invalid",
        "INVALID_SESSION_ID",
    ))
}

/// Decodes a form-encoded request body into its fields.
pub fn form_fields(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Returns the form fields of every request the token endpoint received.
pub async fn token_requests(server: &MockServer) -> Vec<HashMap<String, String>> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == TOKEN_PATH)
        .map(form_fields)
        .collect()
}

/// Returns the decoded `q` parameter of every search the server received.
pub async fn search_queries(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == SEARCH_PATH)
        .filter_map(|request| {
            request
                .url
                .query_pairs()
                .find(|(name, _)| name == "q")
                .map(|(_, value)| value.into_owned())
        })
        .collect()
}
