//! Successful searches: the SOSL statement sent, how records become
//! contacts, and which object's records are returned.

mod common;

use common::{
    adapter, mount_search, mount_token, query, record, search_queries, search_response, SEARCH_PATH,
};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONTACT_AND_LEAD_SOSL: &str = "FIND {4155550123 OR 14155550123} IN PHONE FIELDS RETURNING \
     Contact(Id, Name, Email, Phone, MobilePhone, LastModifiedDate ORDER BY LastModifiedDate DESC LIMIT 20), \
     Lead(Id, Name, Email, Phone, MobilePhone, LastModifiedDate WHERE IsConverted = false ORDER BY LastModifiedDate DESC LIMIT 20)";

/// Runs one lookup whose search returns `records`, with `extra` options.
async fn find_with(
    records: Vec<Value>,
    extra: Value,
) -> (Vec<badgegate_adapter::Contact>, MockServer) {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let response = ResponseTemplate::new(200).set_body_json(search_response(records));
    mount_search(&server, "token-1", response, 1).await;
    let contacts = adapter(&server, extra).find(&query(2_000)).await.unwrap();
    (contacts, server)
}

fn ids(contacts: &[badgegate_adapter::Contact]) -> Vec<&str> {
    contacts.iter().map(|contact| contact.id.as_str()).collect()
}

#[tokio::test]
async fn request_carries_sosl_and_bearer_token() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer token-1"))
        .and(query_param("q", CONTACT_AND_LEAD_SOSL))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(vec![])))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert!(contacts.is_empty());
}

#[tokio::test]
async fn query_parameter_is_url_encoded() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    mount_search(
        &server,
        "token-1",
        ResponseTemplate::new(200).set_body_json(search_response(vec![])),
        1,
    )
    .await;

    adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let search = requests
        .iter()
        .find(|request| request.url.path() == SEARCH_PATH)
        .unwrap();
    let raw_query = search.url.query().unwrap();
    assert!(
        raw_query.starts_with("q=FIND+%7B4155550123+OR+14155550123%7D+IN+PHONE+FIELDS"),
        "{raw_query}"
    );
    assert!(!raw_query.contains('{'), "{raw_query}");
    assert!(!raw_query.contains(' '), "{raw_query}");
}

#[tokio::test]
async fn converted_leads_are_excluded() {
    let (_, server) = find_with(vec![], json!({})).await;

    let queries = search_queries(&server).await;
    assert_eq!(queries.len(), 1);
    assert!(
        queries[0].contains(
            "Lead(Id, Name, Email, Phone, MobilePhone, LastModifiedDate WHERE IsConverted = false"
        ),
        "{}",
        queries[0]
    );
}

#[tokio::test]
async fn record_becomes_contact() {
    let mut found = record(
        "Contact",
        "0035e00000AbCdEAAZ",
        "Ada Lovelace",
        Some("(415) 555-0123"),
        "2025-01-15T08:30:00.000+0000",
    );
    found["Email"] = json!("ada@example.com");
    found["MobilePhone"] = json!("+1 415 555 0199");

    let (contacts, server) = find_with(vec![found], json!({})).await;

    assert_eq!(contacts.len(), 1);
    let contact = &contacts[0];
    assert_eq!(contact.id, "0035e00000AbCdEAAZ");
    assert_eq!(contact.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        contact.phones,
        vec!["(415) 555-0123".to_string(), "+1 415 555 0199".to_string()]
    );
    assert_eq!(
        contact.updated_at.map(|time| time.to_rfc3339()).as_deref(),
        Some("2025-01-15T08:30:00+00:00")
    );
    assert_eq!(
        contact.link,
        format!(
            "{}/lightning/r/Contact/0035e00000AbCdEAAZ/view",
            server.uri()
        )
    );
}

#[tokio::test]
async fn null_fields_are_none() {
    let found = json!({
        "attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q5e00000XyZAAA"},
        "Id": "00Q5e00000XyZAAA",
        "Name": null,
        "Email": null,
        "Phone": null,
        "MobilePhone": "4155550123",
        "LastModifiedDate": null,
    });

    let (contacts, _) = find_with(vec![found], json!({})).await;

    let contact = &contacts[0];
    assert_eq!(contact.name, None);
    assert_eq!(contact.email, None);
    assert_eq!(contact.phones, vec!["4155550123".to_string()]);
    assert_eq!(contact.updated_at, None);
}

#[tokio::test]
async fn contact_beats_newer_lead() {
    let records = vec![
        record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Ada Lovelace",
            Some("(415) 555-0123"),
            "2023-06-01T10:00:00.000+0000",
        ),
        record(
            "Lead",
            "00Q5e00000XyZAAA",
            "Ada L.",
            Some("+14155550123"),
            "2025-03-01T10:00:00.000+0000",
        ),
    ];

    let (contacts, _) = find_with(records, json!({})).await;

    assert_eq!(ids(&contacts), vec!["0035e00000AbCdEAAZ"]);
}

#[tokio::test]
async fn lead_wins_when_contact_number_differs() {
    let records = vec![
        record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Someone Else",
            Some("(415) 555-0124"),
            "2025-03-01T10:00:00.000+0000",
        ),
        record(
            "Lead",
            "00Q5e00000XyZAAA",
            "Ada L.",
            Some("415.555.0123"),
            "2023-06-01T10:00:00.000+0000",
        ),
    ];

    let (contacts, _) = find_with(records, json!({})).await;

    assert_eq!(ids(&contacts), vec!["00Q5e00000XyZAAA"]);
}

#[tokio::test]
async fn configured_order_puts_lead_first() {
    let records = vec![
        record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Ada Lovelace",
            Some("(415) 555-0123"),
            "2025-03-01T10:00:00.000+0000",
        ),
        record(
            "Lead",
            "00Q5e00000XyZAAA",
            "Ada L.",
            Some("(415) 555-0123"),
            "2023-06-01T10:00:00.000+0000",
        ),
    ];

    let (contacts, server) = find_with(records, json!({"objects": ["Lead", "Contact"]})).await;

    assert_eq!(ids(&contacts), vec!["00Q5e00000XyZAAA"]);
    let queries = search_queries(&server).await;
    let returning = queries[0].split("RETURNING ").nth(1).unwrap();
    assert!(returning.starts_with("Lead("), "{returning}");
}

#[tokio::test]
async fn no_match_returns_every_record() {
    let records = vec![
        record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Someone Else",
            Some("(415) 555-0124"),
            "2025-03-01T10:00:00.000+0000",
        ),
        record(
            "Lead",
            "00Q5e00000XyZAAA",
            "Another",
            None,
            "2023-06-01T10:00:00.000+0000",
        ),
    ];

    let (contacts, _) = find_with(records, json!({})).await;

    assert_eq!(
        ids(&contacts),
        vec!["0035e00000AbCdEAAZ", "00Q5e00000XyZAAA"]
    );
}

#[tokio::test]
async fn empty_search_returns_nothing() {
    let (contacts, _) = find_with(vec![], json!({})).await;
    assert!(contacts.is_empty());
}

#[tokio::test]
async fn record_with_unsafe_id_is_skipped() {
    let records = vec![
        record(
            "Contact",
            "../../evil",
            "Mallory",
            Some("(415) 555-0123"),
            "2025-03-01T10:00:00.000+0000",
        ),
        record(
            "Contact",
            "0035e00000AbCdEAAZ",
            "Ada Lovelace",
            Some("(415) 555-0123"),
            "2023-06-01T10:00:00.000+0000",
        ),
    ];

    let (contacts, _) = find_with(records, json!({})).await;

    assert_eq!(ids(&contacts), vec!["0035e00000AbCdEAAZ"]);
}

#[tokio::test]
async fn api_version_sets_path() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v58.0/search/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(vec![])))
        .expect(1)
        .mount(&server)
        .await;

    adapter(&server, json!({"api_version": "v58.0"}))
        .find(&query(2_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn other_object_fields_in_sosl() {
    let (_, server) = find_with(vec![], json!({"objects": ["Contact", "Account"]})).await;

    let queries = search_queries(&server).await;
    assert!(
        queries[0].ends_with(
            "Account(Id, Name, Phone, LastModifiedDate ORDER BY LastModifiedDate DESC LIMIT 20)"
        ),
        "{}",
        queries[0]
    );
}
