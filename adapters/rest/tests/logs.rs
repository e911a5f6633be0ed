//! Log lines of failed and successful lookups: they name the source and
//! the request id, and never contain a credential, the caller's full number
//! or the API's response body.
//!
//! Everything runs in one test, because tracing caches per call site
//! whether any subscriber wants its events. A concurrent test that reaches
//! the same call site without a subscriber can make it skip this test's
//! subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{adapter, query, record, SEARCH_PATH};
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
        json!({"type": "header", "name": "x-api-token", "value": SECRET}),
        json!({"type": "query", "name": "api_token", "value": SECRET}),
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

/// Runs one lookup with `auth` against a search that responds with
/// `response` and returns every log line it produced.
async fn logs_of_lookup(auth: Value, response: ResponseTemplate) -> String {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    mock_api(&server, response).await;
    let _ = adapter(&server, json!({"auth": auth}))
        .find(&query(2_000))
        .await;

    logs.text()
}

#[tokio::test]
async fn logs_name_source_and_hide_secrets() {
    let server = MockServer::start().await;
    let failures = [
        ResponseTemplate::new(401).set_body_string(SECRET),
        ResponseTemplate::new(503).set_body_string(SECRET),
        ResponseTemplate::new(200).set_body_json(json!({"records": [{"note": SECRET}]})),
        ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1, "note": SECRET}]})),
    ];
    for response in failures {
        for auth in auths(&server) {
            let kind = auth["type"].as_str().unwrap().to_string();

            let logs = logs_of_lookup(auth, response.clone()).await;

            assert!(logs.contains("rest-test"), "{kind}: {logs}");
            assert!(logs.contains("REST source search failed"), "{kind}: {logs}");
            assert!(logs.contains("req-1"), "{kind}: {logs}");
            assert!(!logs.contains(SECRET), "{kind}: {logs}");
            assert!(!logs.contains("4155550123"), "{kind}: {logs}");
        }
    }

    let mapping_logs = logs_of_lookup(
        json!({"type": "none"}),
        ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1, "note": SECRET}]})),
    )
    .await;
    assert!(mapping_logs.contains("response.name"), "{mapping_logs}");

    let found_logs = logs_of_lookup(
        json!({"type": "none"}),
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": [record(1, "Ada", "(415) 555-0123")]})),
    )
    .await;
    assert!(
        found_logs.contains("REST source returned candidates"),
        "{found_logs}"
    );
    assert!(!found_logs.contains("Ada"), "{found_logs}");
}
