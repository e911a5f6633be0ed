//! Helpers shared by the REST adapter tests: a source context, options that
//! point the adapter at a mock server, and lookups.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{Adapter, AdapterFactory, BuildError, Query, SourceContext};
use badgegate_rest::RestFactory;
use serde_json::{json, Value};
use tokio::time::Instant;
use wiremock::MockServer;

pub const TOKEN: &str = "rest-token-5f0c2a9e41d7";
pub const SEARCH_PATH: &str = "/v1/contacts/search";

pub fn context(timeout: Duration) -> SourceContext {
    SourceContext {
        name: "rest-test".to_string(),
        timeout,
        default_region: "US".parse().unwrap(),
        config_dir: PathBuf::from("."),
        http: badgegate_adapter::http::client(),
    }
}

/// Options for a plain JSON API at `server`: `GET /v1/contacts/search?phone=
/// {e164}` with a bearer token, records under `data`, with `extra` keys
/// added or replaced at the top level.
pub fn options(server: &MockServer, extra: Value) -> Value {
    let mut options = json!({
        "base_url": server.uri(),
        "path": SEARCH_PATH,
        "query": {"phone": "{e164}"},
        "auth": {"type": "bearer", "token": TOKEN},
        "response": {
            "records": "$.data[*]",
            "name": "{first_name} {last_name}",
            "link": "https://crm.example.com/contacts/{id}",
            "email": "$.email",
            "id": "$.id",
            "updated_at": "$.updated_at",
            "phones": ["$.phone", "$.mobile"],
        },
    });
    merge(&mut options, extra);
    options
}

/// Sets every key of `extra` in `options`. The `response` table is merged,
/// so that `{"response": {"name": "$.x"}}` replaces only `response.name`;
/// other keys are replaced whole. A `null` removes the key.
pub fn merge(options: &mut Value, extra: Value) {
    let (Value::Object(options), Value::Object(extra)) = (options, extra) else {
        panic!("options and extra must be objects");
    };
    for (key, value) in extra {
        match (options.get_mut(&key), value) {
            (_, Value::Null) => {
                options.remove(&key);
            }
            (Some(existing @ Value::Object(_)), value @ Value::Object(_)) if key == "response" => {
                merge(existing, value)
            }
            (_, value) => {
                options.insert(key, value);
            }
        }
    }
}

pub fn build(options: Value) -> Result<Arc<dyn Adapter>, BuildError> {
    RestFactory.build(context(Duration::from_secs(5)), options)
}

/// Builds an adapter through the factory, with a 5 s source timeout.
pub fn adapter(server: &MockServer, extra: Value) -> Arc<dyn Adapter> {
    build(options(server, extra)).expect("the test options are valid")
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

/// Builds a record in the shape [`options`] maps.
pub fn record(id: u64, first_name: &str, phone: &str) -> Value {
    json!({
        "id": id,
        "first_name": first_name,
        "last_name": "Lovelace",
        "email": format!("{}@example.com", first_name.to_lowercase()),
        "phone": phone,
        "mobile": null,
        "updated_at": "2025-01-15T08:30:00Z",
    })
}
