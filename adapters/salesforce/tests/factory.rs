//! Building the adapter from a source table's options.

mod common;

use std::io::Write;
use std::time::Duration;

use badgegate_adapter::AdapterFactory;
use badgegate_salesforce::{SalesforceAdapter, SalesforceFactory};
use common::{build_error, context, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, USERNAME};
use serde_json::json;

fn client_credentials() -> serde_json::Value {
    json!({"type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
}

fn jwt_bearer(private_key_path: &str) -> serde_json::Value {
    json!({"auth": {
        "type": "jwt_bearer",
        "client_id": CLIENT_ID,
        "username": USERNAME,
        "private_key_path": private_key_path,
    }})
}

#[test]
fn type_name_is_salesforce() {
    assert_eq!(SalesforceFactory.type_name(), "salesforce");
}

#[test]
fn no_default_rate_limit() {
    assert_eq!(SalesforceFactory.default_rate_limit_per_sec(), None);
}

#[test]
fn minimal_options_build() {
    let adapter = SalesforceFactory
        .build(
            context(Duration::from_secs(1)),
            json!({"auth": client_credentials()}),
        )
        .unwrap();
    assert_eq!(adapter.name(), "salesforce-test");
}

#[test]
fn jwt_key_is_read_relative_to_config_dir() {
    SalesforceFactory
        .build(
            context(Duration::from_secs(1)),
            jwt_bearer("test-only-private-key.pem"),
        )
        .unwrap();
}

#[test]
fn unknown_key_is_named() {
    let error = build_error(json!({"auth": client_credentials(), "login_ulr": "https://x"}));
    assert_eq!(error.key.as_deref(), Some("login_ulr"));
    assert!(error.message.contains("login_url"), "{error}");
}

#[test]
fn unknown_auth_key_is_named() {
    let error = build_error(json!({"auth": {
        "type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
    }}));
    assert_eq!(error.key.as_deref(), Some("auth.username"));
}

#[test]
fn bad_auth_type_lists_valid_ones() {
    let error = build_error(json!({"auth": {"type": "password", "client_id": CLIENT_ID}}));
    let message = error.to_string();
    assert_eq!(error.key.as_deref(), Some("auth.type"));
    assert!(message.contains("password"), "{message}");
    for flow in ["client_credentials", "jwt_bearer", "refresh_token"] {
        assert!(message.contains(flow), "{message}");
    }
}

#[test]
fn missing_auth_is_named() {
    let error = build_error(json!({}));
    assert_eq!(error.key.as_deref(), Some("auth"));
}

#[test]
fn missing_refresh_token_is_named() {
    let error = build_error(json!({"auth": {"type": "refresh_token", "client_id": CLIENT_ID}}));
    assert_eq!(error.key.as_deref(), Some("auth.refresh_token"));
}

#[test]
fn missing_private_key_file_is_named() {
    let error = build_error(jwt_bearer("no-such-key.pem"));
    assert_eq!(error.key.as_deref(), Some("auth.private_key_path"));
    assert!(error.message.contains("no-such-key.pem"), "{error}");
    assert!(error.message.contains("cannot read"), "{error}");
}

#[test]
fn file_that_is_not_a_key_is_named() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "this is not a key").unwrap();
    let path = file.path().to_str().unwrap().to_string();

    let error = build_error(jwt_bearer(&path));

    assert_eq!(error.key.as_deref(), Some("auth.private_key_path"));
    assert!(
        error.message.contains("not a PEM-encoded RSA private key"),
        "{error}"
    );
}

#[test]
fn public_key_is_not_a_private_key() {
    let error = build_error(jwt_bearer("test-only-public-key.pem"));
    assert_eq!(error.key.as_deref(), Some("auth.private_key_path"));
}

#[test]
fn bad_api_version_is_named() {
    let error = build_error(json!({"auth": client_credentials(), "api_version": "62"}));
    assert_eq!(error.key.as_deref(), Some("api_version"));
}

#[test]
fn bad_object_is_named() {
    let error = build_error(json!({"auth": client_credentials(), "objects": ["Contact; DELETE"]}));
    assert_eq!(error.key.as_deref(), Some("objects"));
}

#[test]
fn adapter_debug_hides_secrets() {
    let adapter = SalesforceAdapter::from_options(
        context(Duration::from_secs(1)),
        json!({"auth": {
            "type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        }}),
    )
    .unwrap();
    let printed = format!("{adapter:?}");
    assert!(!printed.contains(CLIENT_SECRET), "{printed}");
    assert!(!printed.contains(REFRESH_TOKEN), "{printed}");
    assert!(printed.contains("refresh_token"), "{printed}");
}
