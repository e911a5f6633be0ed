//! Building a REST source from its table: every problem is reported with
//! the key at fault and what to write instead.

mod common;

use badgegate_adapter::AdapterFactory;
use badgegate_rest::RestFactory;
use common::{build, options};
use serde_json::{json, Value};
use wiremock::MockServer;

async fn build_error(extra: Value) -> badgegate_adapter::BuildError {
    let server = MockServer::start().await;
    match build(options(&server, extra)) {
        Ok(_) => panic!("the options are invalid, but the adapter was built"),
        Err(error) => error,
    }
}

#[test]
fn type_name_is_rest() {
    assert_eq!(RestFactory.type_name(), "rest");
    assert_eq!(RestFactory.default_rate_limit_per_sec(), None);
}

#[tokio::test]
async fn valid_options_build() {
    let server = MockServer::start().await;
    build(options(&server, json!({}))).unwrap();
}

#[tokio::test]
async fn invalid_keys_are_named() {
    let cases = [
        (json!({"pth": "/x"}), "pth", "`path`"),
        (json!({"base_url": null}), "base_url", "required"),
        (json!({"base_url": "ftp://example.com"}), "base_url", "http"),
        (
            json!({"base_url": "https://u:p@example.com"}),
            "base_url",
            "credentials",
        ),
        (json!({"auth": null}), "auth", "type = \"none\""),
        (json!({"response": null}), "response", "[sources.response]"),
        (
            json!({"auth": {"type": "bearer"}}),
            "auth.token",
            "required",
        ),
        (
            json!({"auth": {"type": "bearer", "token": " "}}),
            "auth.token",
            "empty",
        ),
        (
            json!({"auth": {"type": "none", "token": "x"}}),
            "auth.token",
            "no other keys",
        ),
        (
            json!({"auth": {"type": "header", "name": "bad name", "value": "x"}}),
            "auth.name",
            "header name",
        ),
        (
            json!({"auth": {"type": "header", "name": "x-key", "value": "a\r\nb"}}),
            "auth.value",
            "line break",
        ),
        (
            json!({"auth": {"type": "oauth2_client_credentials", "token_url": "https://a.example/t", "client_id": "c", "client_secret": "s", "scheme": "Two words"}}),
            "auth.scheme",
            "Zoho-oauthtoken",
        ),
        (
            json!({"auth": {"type": "oauth2_client_credentials", "token_url": "https://a.example/t", "client_id": "c", "client_secret": "s", "extra": {"client_secret": "t"}}}),
            "auth.extra.client_secret",
            "flow",
        ),
        (
            json!({"auth": {"type": "oauth2_refresh_token", "token_url": "not a url", "client_id": "c", "refresh_token": "r"}}),
            "auth.token_url",
            "URL",
        ),
        (
            json!({"headers": {"Authorization": "Bearer x"}}),
            "headers.Authorization",
            "bearer",
        ),
        (
            json!({"auth": {"type": "query", "name": "phone", "value": "k"}}),
            "query.phone",
            "remove it",
        ),
        (
            json!({"query": {"phone": "{phone}"}}),
            "query.phone",
            "{national_digits}",
        ),
        (json!({"query": {"limit": [1]}}), "query.limit", "text"),
        (
            json!({"constants": {"e164": "x"}}),
            "constants.e164",
            "built-in",
        ),
        (
            json!({"constants": {"my-company": "x"}}),
            "constants",
            "valid constant name",
        ),
        (
            json!({"response": {"records": "data[*]"}}),
            "response.records",
            "start it with `$`",
        ),
        (
            json!({"response": {"records": "$.data[*"}}),
            "response.records",
            "not a valid JSONPath",
        ),
        (
            json!({"response": {"name": null}}),
            "response.name",
            "required",
        ),
        (
            json!({"response": {"link": "https://x/{id"}}),
            "response.link",
            "closing",
        ),
        (
            json!({"response": {"phones": []}}),
            "response.phones",
            "required",
        ),
        (
            json!({"response": {"phones": 5}}),
            "response.phones",
            "required",
        ),
        (
            json!({"response": {"phones": ["$.a", 5]}}),
            "response.phones",
            "required",
        ),
        (json!({"path": "/v1/./contacts"}), "path", "`.` or `..`"),
        (
            json!({"response": {"phones": ["$.phone", "$[?"]}}),
            "response.phones",
            "$[?",
        ),
        (
            json!({"response": {"updated_at": "{modified}"}}),
            "response.updated_at",
            "JSONPath",
        ),
        (
            json!({"response": {"not_found_statuses": [401]}}),
            "response.not_found_statuses",
            "401",
        ),
        (
            json!({"response": {"nmae": "$.name"}}),
            "response.nmae",
            "`name`",
        ),
    ];
    for (extra, key, hint) in cases {
        let error = build_error(extra.clone()).await;
        assert_eq!(error.key.as_deref(), Some(key), "{extra}: {error}");
        assert!(error.message.contains(hint), "{extra}: {}", error.message);
    }
}

#[tokio::test]
async fn unknown_auth_type_lists_valid_ones() {
    let error = build_error(json!({"auth": {"type": "apikey"}})).await;

    assert_eq!(error.key.as_deref(), Some("auth.type"));
    for valid in [
        "\"none\"",
        "\"bearer\"",
        "\"basic\"",
        "\"header\"",
        "\"query\"",
        "\"oauth2_client_credentials\"",
        "\"oauth2_refresh_token\"",
    ] {
        assert!(error.message.contains(valid), "{}", error.message);
    }
}
