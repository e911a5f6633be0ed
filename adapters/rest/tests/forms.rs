//! `forms`: spellings of the number bound to `{term}` and tried in turn
//! until a response contains a record with the caller's number.

mod common;

use common::{adapter, query, record, SEARCH_PATH};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn with_forms() -> Value {
    json!({
        "query": {"term": "{term}", "fields": "phone"},
        "forms": ["{e164}", "{national_digits}", "{national}"],
    })
}

async fn mount_term(server: &MockServer, term: &str, body: Value, calls: u64) {
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("term", term))
        .and(query_param("fields", "phone"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(calls)
        .mount(server)
        .await;
}

#[tokio::test]
async fn first_form_with_match_wins() {
    let server = MockServer::start().await;
    mount_term(&server, "+14155550123", json!({"data": []}), 1).await;
    mount_term(
        &server,
        "4155550123",
        json!({"data": [record(7, "Ada", "415-555-0123")]}),
        1,
    )
    .await;
    mount_term(&server, "(415) 555-0123", json!({"data": []}), 0).await;

    let contacts = adapter(&server, with_forms())
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].id, "7");
}

#[tokio::test]
async fn candidates_without_match_do_not_stop_the_forms() {
    let server = MockServer::start().await;
    mount_term(
        &server,
        "+14155550123",
        json!({"data": [record(1, "Other", "+44 20 7946 0958")]}),
        1,
    )
    .await;
    mount_term(
        &server,
        "4155550123",
        json!({"data": [record(2, "Ada", "(415) 555-0123")]}),
        1,
    )
    .await;
    mount_term(&server, "(415) 555-0123", json!({"data": []}), 0).await;

    let contacts = adapter(&server, with_forms())
        .find(&query(2_000))
        .await
        .unwrap();

    let ids: Vec<&str> = contacts.iter().map(|contact| contact.id.as_str()).collect();
    assert_eq!(ids, ["2"]);
}

#[tokio::test]
async fn no_match_returns_last_candidates() {
    let server = MockServer::start().await;
    mount_term(
        &server,
        "+14155550123",
        json!({"data": [record(1, "First", "+44 20 7946 0958")]}),
        1,
    )
    .await;
    mount_term(&server, "4155550123", json!({"data": []}), 1).await;
    mount_term(
        &server,
        "(415) 555-0123",
        json!({"data": [record(3, "Last", "+1 212 555 0100")]}),
        1,
    )
    .await;

    let contacts = adapter(&server, with_forms())
        .find(&query(2_000))
        .await
        .unwrap();

    let ids: Vec<&str> = contacts.iter().map(|contact| contact.id.as_str()).collect();
    assert_eq!(ids, ["3"]);
}

#[tokio::test]
async fn failure_stops_the_forms() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("term", "+14155550123"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    mount_term(&server, "4155550123", json!({"data": []}), 0).await;

    let error = adapter(&server, with_forms())
        .find(&query(2_000))
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(500));
}

#[tokio::test]
async fn repeated_spelling_is_sent_once() {
    let server = MockServer::start().await;
    mount_term(&server, "+14155550123", json!({"data": []}), 1).await;
    let adapter = adapter(
        &server,
        json!({
            "query": {"term": "{term}", "fields": "phone"},
            "forms": ["{e164}", "+{e164_digits}"],
        }),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert!(contacts.is_empty());
}
