//! Building the adapter from a source table's options.

mod common;

use std::time::Duration;

use badgegate_adapter::AdapterFactory;
use badgegate_hubspot::{HubspotAdapter, HubspotFactory};
use common::context;
use serde_json::json;

fn build_error(options: serde_json::Value) -> badgegate_adapter::BuildError {
    match HubspotFactory.build(context(Duration::from_secs(1)), options) {
        Ok(_) => panic!("the options were accepted"),
        Err(error) => error,
    }
}

#[test]
fn type_name_is_hubspot() {
    assert_eq!(HubspotFactory.type_name(), "hubspot");
}

#[test]
fn minimal_options_build() {
    let adapter = HubspotFactory
        .build(
            context(Duration::from_secs(1)),
            json!({"access_token": "pat-1"}),
        )
        .unwrap();
    assert_eq!(adapter.name(), "hubspot-test");
}

#[test]
fn missing_token_is_rejected() {
    let error = build_error(json!({}));
    assert_eq!(error.key.as_deref(), Some("access_token"));
    assert!(error.message.contains("private app token"), "{error}");
    assert!(error.message.contains("${HUBSPOT_TOKEN}"), "{error}");
}

#[test]
fn empty_token_is_rejected() {
    let error = build_error(json!({"access_token": ""}));
    assert_eq!(error.key.as_deref(), Some("access_token"));
}

#[test]
fn unknown_key_is_named() {
    let error = build_error(json!({"acces_token": "pat-1"}));
    let message = error.to_string();
    assert!(message.contains("acces_token"), "{message}");
    assert!(message.contains("access_token"), "{message}");
}

#[test]
fn bad_base_url_is_named() {
    let error = build_error(json!({"access_token": "pat-1", "base_url": "api.hubapi.com"}));
    assert_eq!(error.key.as_deref(), Some("base_url"));
    assert!(error.message.contains("api.hubapi.com"), "{error}");
}

#[test]
fn base_url_must_be_http() {
    let error = build_error(json!({"access_token": "pat-1", "base_url": "file:///etc/hosts"}));
    assert_eq!(error.key.as_deref(), Some("base_url"));
    assert!(error.message.contains("file:///etc/hosts"), "{error}");
}

#[test]
fn bad_portal_id_is_named() {
    let error = build_error(json!({"access_token": "pat-1", "portal_id": "acme"}));
    assert_eq!(error.key.as_deref(), Some("portal_id"));
    assert!(error.message.contains("acme"), "{error}");
}

#[test]
fn adapter_debug_hides_token() {
    let token = "pat-na1-secret-value";
    let adapter = HubspotAdapter::from_options(
        context(Duration::from_secs(1)),
        json!({"access_token": token}),
    )
    .unwrap();
    let printed = format!("{adapter:?}");
    assert!(!printed.contains(token), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
}
