//! Helpers shared by the HubSpot adapter tests: a source context, options
//! that point the adapter at a mock server, queries, and response bodies in
//! the shapes HubSpot's API returns.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{Adapter, AdapterFactory, Query, SourceContext};
use badgegate_hubspot::HubspotFactory;
use serde_json::{json, Value};
use tokio::time::Instant;
use wiremock::MockServer;

pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
pub const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";
pub const ACCOUNT_INFO_PATH: &str = "/account-info/v3/details";

pub fn context(timeout: Duration) -> SourceContext {
    SourceContext {
        name: "hubspot-test".to_string(),
        timeout,
        default_region: "US".parse().unwrap(),
        config_dir: PathBuf::from("."),
        http: badgegate_adapter::http::client(),
    }
}

/// Options for an adapter that calls `server`, with `extra` keys added.
pub fn options(server: &MockServer, extra: Value) -> Value {
    let mut options = json!({
        "access_token": TOKEN,
        "base_url": server.uri(),
    });
    if let Value::Object(extra) = extra {
        options.as_object_mut().unwrap().extend(extra);
    }
    options
}

/// Builds an adapter through the factory, with a 5 s source timeout.
pub fn adapter(server: &MockServer, extra: Value) -> Arc<dyn Adapter> {
    HubspotFactory
        .build(context(Duration::from_secs(5)), options(server, extra))
        .expect("the test options are valid")
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

/// Builds a search response with `results` and a `total` equal to their number.
pub fn search_response(results: Vec<Value>) -> Value {
    json!({
        "total": results.len(),
        "results": results,
    })
}

/// Builds a contact as a search result. HubSpot sends every property value as a
/// string and every requested but unset property as `null`.
pub fn contact(id: &str, properties: Value, url: Option<&str>) -> Value {
    let mut all_properties = json!({
        "createdate": "2024-03-01T09:00:00.000Z",
        "email": null,
        "firstname": null,
        "hs_object_id": id,
        "lastmodifieddate": "2025-01-15T08:30:00.000Z",
        "lastname": null,
        "mobilephone": null,
        "phone": null,
    });
    if let Value::Object(properties) = properties {
        all_properties.as_object_mut().unwrap().extend(properties);
    }

    let mut result = json!({
        "id": id,
        "properties": all_properties,
        "createdAt": "2024-03-01T09:00:00.000Z",
        "updatedAt": "2025-01-15T08:30:00.000Z",
        "archived": false,
    });
    if let Some(url) = url {
        result["url"] = json!(url);
    }
    result
}

/// Builds HubSpot's error body for a rejected request.
pub fn error_body(message: &str, category: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": "4f8a2d1e-6b7c-4e1f-9a3b-2c5d8e7f6a10",
        "category": category,
    })
}

/// Builds HubSpot's account-info response.
pub fn account_details(portal_id: u64, ui_domain: &str) -> Value {
    json!({
        "portalId": portal_id,
        "uiDomain": ui_domain,
        "dataHostingLocation": "na1",
    })
}
