//! Log lines of failed and successful lookups: they name the source, the
//! status and the request id, and never contain the token, the caller's full
//! number or HubSpot's response body.
//!
//! Everything runs in one test, because tracing caches per call site whether
//! any subscriber wants its events. A concurrent test that reaches the same
//! call site without a subscriber can make it skip this test's subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{adapter, contact, error_body, query, search_response, SEARCH_PATH, TOKEN};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Log output collected in memory.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs one lookup against a search that responds with `response` and
/// returns every log line it produced. The test runtime has one thread, so
/// the subscriber set here receives every event the adapter emits.
async fn logs_of_lookup(response: ResponseTemplate) -> String {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let _ = adapter(&server, json!({"portal_id": 12345}))
        .find(&query(2_000))
        .await;

    logs.text()
}

#[tokio::test]
async fn logs_name_source_and_hide_secrets() {
    let body_marker = "correlation-marker-7d1f";

    let auth_failure = logs_of_lookup(
        ResponseTemplate::new(401).set_body_json(error_body(body_marker, "INVALID_AUTHENTICATION")),
    )
    .await;
    assert!(auth_failure.contains("ERROR"), "{auth_failure}");
    assert!(
        auth_failure.contains("source=hubspot-test"),
        "{auth_failure}"
    );
    assert!(auth_failure.contains("status=401"), "{auth_failure}");
    assert!(
        auth_failure.contains("request_id=\"req-1\""),
        "{auth_failure}"
    );
    assert!(auth_failure.contains("***0123"), "{auth_failure}");
    assert!(!auth_failure.contains(TOKEN), "{auth_failure}");
    assert!(!auth_failure.contains(body_marker), "{auth_failure}");
    assert!(!auth_failure.contains("4155550123"), "{auth_failure}");

    let rate_limit = logs_of_lookup(ResponseTemplate::new(429).set_body_json(json!({
        "status": "error",
        "message": body_marker,
        "errorType": "RATE_LIMIT",
        "correlationId": "0c1b2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
        "policyName": "SECONDLY",
    })))
    .await;
    assert!(rate_limit.contains("WARN"), "{rate_limit}");
    assert!(rate_limit.contains("status=429"), "{rate_limit}");
    assert!(!rate_limit.contains("ERROR"), "{rate_limit}");
    assert!(!rate_limit.contains(TOKEN), "{rate_limit}");
    assert!(!rate_limit.contains(body_marker), "{rate_limit}");

    let found = contact(
        "501",
        json!({"firstname": "Ada", "phone": "(415) 555-0123"}),
        None,
    );
    let success =
        logs_of_lookup(ResponseTemplate::new(200).set_body_json(search_response(vec![found])))
            .await;
    assert!(
        success.contains("HubSpot search returned contacts"),
        "{success}"
    );
    assert!(success.contains("***0123"), "{success}");
    assert!(!success.contains(TOKEN), "{success}");
    assert!(!success.contains("4155550123"), "{success}");
    assert!(!success.contains("555-0123"), "{success}");
}
