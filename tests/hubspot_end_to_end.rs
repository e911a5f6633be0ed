//! The gateway with a HubSpot source, against a wiremock HubSpot: found
//! contacts and their cache, fuzzy search results for another number, and
//! HubSpot failing, timing out or rejecting the token.

mod common;

use std::time::{Duration, Instant};

use common::{toml_string, Gateway};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const SECRET: &str = "hubspot-end-to-end-secret";
const TOKEN: &str = "pat-na1-end-to-end-token";
const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";
const ADA_LINK: &str = "https://app.hubspot.com/contacts/44237313/record/0-1/501";

/// Bound on how long a request may take when HubSpot fails or stalls. The
/// gateway's deadline is 1 s, and the margin covers a slow machine.
const UNAVAILABLE_RESPONSE_BOUND: Duration = Duration::from_secs(5);

/// Builds a config with one HubSpot source that calls `hubspot` and has a
/// 1 s timeout, and with a lookup deadline of `deadline_ms`.
fn config(hubspot: &MockServer, deadline_ms: u64) -> String {
    format!(
        r#"
[justcall]
secrets = ["{SECRET}"]

[lookup]
deadline_ms = {deadline_ms}

[[sources]]
name = "hubspot"
type = "hubspot"
timeout_ms = 1000
access_token = "{TOKEN}"
base_url = {base_url}
portal_id = 123
"#,
        base_url = toml_string(&hubspot.uri())
    )
}

/// Builds a contact search response with one contact, Ada Lovelace, stored
/// with `phone`.
fn search_response(phone: &str) -> Value {
    json!({
        "total": 1,
        "results": [{
            "id": "501",
            "properties": {
                "firstname": "Ada",
                "lastname": "Lovelace",
                "email": "ada@example.com",
                "phone": phone,
                "mobilephone": null
            },
            "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "archived": false,
            "url": ADA_LINK
        }]
    })
}

/// Counts the contact searches `hubspot` has received.
async fn search_calls(hubspot: &MockServer) -> usize {
    hubspot
        .received_requests()
        .await
        .expect("wiremock records requests")
        .iter()
        .filter(|request| request.url.path() == SEARCH_PATH)
        .count()
}

/// Matches a contact search sent with the configured token.
fn contact_search() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
}

#[tokio::test]
async fn found_contact_is_served_then_cached() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(search_response("+1 (415) 555-0123")),
        )
        .expect(1)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 1000)).await;

    let first = gateway.request_badge(SECRET, "14155550123").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["success"], true, "{}", first.text);
    assert_eq!(first.data("contact_name"), "Ada Lovelace", "{}", first.text);
    assert_eq!(
        first.data("contact_profile_link"),
        ADA_LINK,
        "{}",
        first.text
    );
    assert_eq!(
        first.data("contact_email"),
        "ada@example.com",
        "{}",
        first.text
    );

    // The same number written another way shares the cache entry, so
    // HubSpot is not called again, which `expect(1)` checks.
    let second = gateway.request_badge(SECRET, "+1 415 555 0123").await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["success"], true, "{}", second.text);
    assert_eq!(
        second.data("contact_name"),
        "Ada Lovelace",
        "{}",
        second.text
    );
    assert_eq!(
        second.data("contact_profile_link"),
        ADA_LINK,
        "{}",
        second.text
    );
    assert_eq!(
        second.data("contact_email"),
        "ada@example.com",
        "{}",
        second.text
    );

    hubspot.verify().await;
}

#[tokio::test]
async fn fuzzy_match_of_other_number_is_not_found() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(search_response("+1 (415) 555-0199")),
        )
        .expect(1)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 1000)).await;

    let reply = gateway.request_badge(SECRET, "14155550123").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "not_found", "{}", reply.text);
    assert!(reply.body.get("data").is_none(), "{}", reply.text);

    // A miss is cached too, so HubSpot is called once, which `expect(1)` checks.
    let again = gateway.request_badge(SECRET, "14155550123").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.error_code(), "not_found", "{}", again.text);

    hubspot.verify().await;
}

#[tokio::test]
async fn server_error_is_unavailable_and_not_cached() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "status": "error",
            "message": "internal error",
            "category": "INTERNAL_ERROR"
        })))
        .expect(2..)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 1000)).await;

    for attempt in 1..=2 {
        let calls_before = search_calls(&hubspot).await;
        let started = Instant::now();
        let reply = gateway.request_badge(SECRET, "14155550123").await;
        let elapsed = started.elapsed();
        let calls_after = search_calls(&hubspot).await;

        assert_eq!(reply.status, 200, "attempt {attempt}: {}", reply.text);
        assert_eq!(
            reply.body["success"], false,
            "attempt {attempt}: {}",
            reply.text
        );
        assert_eq!(
            reply.error_code(),
            "upstream_unavailable",
            "attempt {attempt}: {}",
            reply.text
        );
        assert!(
            elapsed < UNAVAILABLE_RESPONSE_BOUND,
            "attempt {attempt} took {elapsed:?}"
        );
        // A failure is not cached, so every request calls HubSpot again.
        assert!(
            calls_after > calls_before,
            "attempt {attempt} did not call HubSpot"
        );
    }
}

#[tokio::test]
async fn stalled_hubspot_is_cut_at_deadline() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(search_response("+1 (415) 555-0123"))
                .set_delay(Duration::from_secs(10)),
        )
        .expect(1..)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 1000)).await;

    let started = Instant::now();
    let reply = gateway.request_badge(SECRET, "14155550123").await;
    let elapsed = started.elapsed();

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "upstream_unavailable", "{}", reply.text);
    assert!(
        elapsed < UNAVAILABLE_RESPONSE_BOUND,
        "the answer took {elapsed:?}, although HubSpot stalls for 10 s and the deadline is 1 s"
    );
}

#[tokio::test]
async fn rejected_token_is_unavailable_and_logged() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION"
        })))
        .expect(1..)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 1000)).await;

    let reply = gateway.request_badge(SECRET, "14155550123").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "upstream_unavailable", "{}", reply.text);

    let error_line = gateway
        .wait_for_log_line(|line| {
            line.contains(" ERROR ") && line.contains("source=hubspot") && line.contains("401")
        })
        .await;
    assert!(
        error_line.is_some(),
        "no ERROR line names source=hubspot and HTTP 401; the logs are:\n{}",
        gateway.logs()
    );
}

#[tokio::test]
async fn first_request_after_start_meets_deadline() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(search_response("+1 (415) 555-0123")),
        )
        .expect(1)
        .mount(&hubspot)
        .await;
    let gateway = Gateway::start(&config(&hubspot, 300)).await;

    let reply = gateway.request_badge(SECRET, "14155550123").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    hubspot.verify().await;
}
