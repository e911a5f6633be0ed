//! Log lines of token requests and searches. They name the source, the
//! status and the OAuth or Salesforce error code. The daily API limit gets
//! at most one warning a minute. No line contains a credential, a token, the
//! caller's full number or a response body.
//!
//! Everything runs in one test, because tracing caches per call site whether
//! any subscriber wants its events. A concurrent test that reaches the same
//! call site without a subscriber can make it skip this test's subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use badgegate_adapter::Adapter;
use common::{
    adapter, api_error, mount_search, query, record, search_response, session_expired,
    token_response, CLIENT_SECRET, TOKEN_PATH,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An access token long enough that finding it in a log is no coincidence.
const ACCESS_TOKEN: &str = "00D5e000000TEST!AQ0AQFakeAccessTokenForLogTests";

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

/// Runs `lookups` lookups on one adapter against a server prepared by
/// `mount`, and returns every log line they produced. The test runtime has
/// one thread, so the subscriber set here receives every event the adapter
/// emits.
async fn logs_of_lookups<F, Fut>(lookups: usize, mount: F) -> String
where
    F: FnOnce(Arc<MockServer>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Arc::new(MockServer::start().await);
    mount(Arc::clone(&server)).await;
    let adapter: Arc<dyn Adapter> = adapter(&server, json!({}));
    for _ in 0..lookups {
        let _ = adapter.find(&query(2_000)).await;
    }

    logs.text()
}

async fn mount_token(server: &MockServer, access_token: &str) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_response(server, access_token)),
        )
        .mount(server)
        .await;
}

fn assert_no_secrets(logs: &str) {
    assert!(!logs.contains(CLIENT_SECRET), "{logs}");
    assert!(!logs.contains(ACCESS_TOKEN), "{logs}");
    assert!(!logs.contains("4155550123"), "{logs}");
    assert!(!logs.contains("555-0123"), "{logs}");
}

#[tokio::test]
async fn logs_name_codes_and_hide_secrets() {
    let body_marker = "response-body-marker-5c2e";

    // Rejected credentials: one error naming the OAuth error code.
    let bad_credentials = logs_of_lookups(1, |server| async move {
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_client",
                "error_description": format!("client secret {CLIENT_SECRET} is invalid"),
            })))
            .expect(1)
            .mount(&server)
            .await;
    })
    .await;
    assert!(bad_credentials.contains("ERROR"), "{bad_credentials}");
    assert!(
        bad_credentials.contains("source=salesforce-test"),
        "{bad_credentials}"
    );
    assert!(
        bad_credentials.contains("oauth_error=\"invalid_client\""),
        "{bad_credentials}"
    );
    assert!(bad_credentials.contains("status=400"), "{bad_credentials}");
    assert_no_secrets(&bad_credentials);

    // The daily API limit: three failed lookups, one warning.
    let request_limit = logs_of_lookups(3, |server| async move {
        mount_token(&server, ACCESS_TOKEN).await;
        let response = ResponseTemplate::new(403)
            .set_body_json(api_error(body_marker, "REQUEST_LIMIT_EXCEEDED"));
        mount_search(&server, ACCESS_TOKEN, response, 3).await;
    })
    .await;
    let warnings: Vec<&str> = request_limit
        .lines()
        .filter(|line| line.contains("WARN"))
        .collect();
    assert_eq!(warnings.len(), 1, "{request_limit}");
    assert!(
        warnings[0].contains("REQUEST_LIMIT_EXCEEDED"),
        "{request_limit}"
    );
    assert!(!request_limit.contains("ERROR"), "{request_limit}");
    assert!(!request_limit.contains(body_marker), "{request_limit}");
    assert_no_secrets(&request_limit);

    // A rejected search: the error names Salesforce's errorCode, not its message.
    let invalid_field = logs_of_lookups(1, |server| async move {
        mount_token(&server, ACCESS_TOKEN).await;
        let response =
            ResponseTemplate::new(400).set_body_json(api_error(body_marker, "INVALID_FIELD"));
        mount_search(&server, ACCESS_TOKEN, response, 1).await;
    })
    .await;
    assert!(invalid_field.contains("ERROR"), "{invalid_field}");
    assert!(
        invalid_field.contains("error_code=\"INVALID_FIELD\""),
        "{invalid_field}"
    );
    assert!(
        invalid_field.contains("request_id=\"req-1\""),
        "{invalid_field}"
    );
    assert!(invalid_field.contains("***0123"), "{invalid_field}");
    assert!(!invalid_field.contains(body_marker), "{invalid_field}");
    assert_no_secrets(&invalid_field);

    // An expired session: one note about the retry, no error.
    let session = logs_of_lookups(1, |server| async move {
        mount_token(&server, ACCESS_TOKEN).await;
        let calls = Arc::new(Mutex::new(0));
        let responder = move |_: &wiremock::Request| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                session_expired()
            } else {
                ResponseTemplate::new(200).set_body_json(search_response(vec![]))
            }
        };
        Mock::given(method("GET"))
            .and(path(common::SEARCH_PATH))
            .respond_with(responder)
            .expect(2)
            .mount(&server)
            .await;
    })
    .await;
    assert!(session.contains("retrying the search once"), "{session}");
    assert!(!session.contains("ERROR"), "{session}");
    assert_no_secrets(&session);

    // A successful search: API usage at debug level, the number masked.
    let success = logs_of_lookups(1, |server| async move {
        mount_token(&server, ACCESS_TOKEN).await;
        let found = record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Ada Lovelace",
            Some("(415) 555-0123"),
            "2025-01-15T08:30:00.000+0000",
        );
        let response = ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=18/5000")
            .set_body_json(search_response(vec![found]));
        mount_search(&server, ACCESS_TOKEN, response, 1).await;
    })
    .await;
    assert!(success.contains("api_requests_used=18"), "{success}");
    assert!(success.contains("api_requests_limit=5000"), "{success}");
    assert!(
        success.contains("Salesforce search returned records"),
        "{success}"
    );
    assert!(success.contains("***0123"), "{success}");
    assert_no_secrets(&success);
}
