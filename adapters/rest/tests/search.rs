//! Lookups against a mock JSON API: the request it receives, the contacts
//! built from its records, statuses that mean "no record", and responses
//! that do not fit the mapping.

mod common;

use badgegate_adapter::LookupError;
use chrono::{TimeZone, Utc};
use common::{adapter, query, record, SEARCH_PATH, TOKEN};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn respond_once(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn found_record_becomes_contact() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("phone", "+14155550123"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [record(501, "Ada", "(415) 555-0123")],
            "paging": {"next": "/v1/contacts/search?page=2", "total": 7},
        })))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 1);
    let contact = &contacts[0];
    assert_eq!(contact.id, "501");
    assert_eq!(contact.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
    assert_eq!(contact.link, "https://crm.example.com/contacts/501");
    assert_eq!(contact.phones, ["(415) 555-0123"]);
    let updated_at = Utc.with_ymd_and_hms(2025, 1, 15, 8, 30, 0).unwrap();
    assert_eq!(contact.updated_at, Some(updated_at));
}

#[tokio::test]
async fn every_record_is_returned_with_stored_phones() {
    let server = MockServer::start().await;
    let mut other = record(502, "Other", "+44 415 555 0123");
    other["mobile"] = json!("+1 (415) 555-0124");
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [record(501, "Ada", "415.555.0123 "), other],
        })),
    )
    .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0].phones, ["415.555.0123 "]);
    assert_eq!(
        contacts[1].phones,
        ["+44 415 555 0123", "+1 (415) 555-0124"]
    );
}

#[tokio::test]
async fn empty_list_is_no_record() {
    let server = MockServer::start().await;
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"data": [], "paging": {"total": 0}})),
    )
    .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert!(contacts.is_empty(), "{contacts:?}");
}

#[tokio::test]
async fn not_found_statuses_are_no_record() {
    for response in [
        ResponseTemplate::new(404).set_body_json(json!({"error": "no such contact"})),
        ResponseTemplate::new(204),
    ] {
        let server = MockServer::start().await;
        respond_once(&server, response).await;

        let contacts = adapter(&server, json!({}))
            .find(&query(2_000))
            .await
            .unwrap();

        assert!(contacts.is_empty(), "{contacts:?}");
    }
}

#[tokio::test]
async fn configured_not_found_statuses_replace_defaults() {
    let server = MockServer::start().await;
    respond_once(&server, ResponseTemplate::new(404)).await;
    let adapter = adapter(&server, json!({"response": {"not_found_statuses": [204]}}));

    let error = adapter.find(&query(2_000)).await.unwrap_err();

    assert_eq!(error, LookupError::Rejected { status: 404 });
}

#[tokio::test]
async fn failures_keep_their_classification() {
    let cases = [
        (
            ResponseTemplate::new(401),
            LookupError::Auth { status: 401 },
        ),
        (
            ResponseTemplate::new(400),
            LookupError::Rejected { status: 400 },
        ),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "3"),
            LookupError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(3)),
            },
        ),
        (
            ResponseTemplate::new(503),
            LookupError::Server {
                status: 503,
                retry_after: None,
            },
        ),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        respond_once(&server, response).await;

        let error = adapter(&server, json!({}))
            .find(&query(2_000))
            .await
            .unwrap_err();

        assert_eq!(error, expected);
    }
}

#[tokio::test]
async fn records_path_not_fitting_is_bad_response() {
    let server = MockServer::start().await;
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"results": [record(1, "Ada", "x")]})),
    )
    .await;

    let error = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap_err();

    let LookupError::BadResponse(message) = error else {
        panic!("expected a bad response, got {error:?}");
    };
    assert!(message.contains("response.records"), "{message}");
    assert!(message.contains("$.data[*]"), "{message}");
}

#[tokio::test]
async fn mapping_errors_name_key_not_values() {
    let secret_marker = "private-value-91c3";
    let mut missing_name = record(501, "Ada", "(415) 555-0123");
    missing_name.as_object_mut().unwrap().remove("last_name");
    missing_name["note"] = json!(secret_marker);
    let mut null_id = record(501, "Ada", "(415) 555-0123");
    null_id["id"] = json!(null);
    null_id["note"] = json!(secret_marker);
    let mut bad_link = record(501, "Ada", "(415) 555-0123");
    bad_link["web"] = json!(format!("javascript:alert('{secret_marker}')"));
    let cases = [
        (missing_name, json!({}), "response.name", "`last_name`"),
        (
            null_id,
            json!({"response": {"link": "https://crm.example.com/contacts/{first_name}"}}),
            "response.id",
            "`$.id`",
        ),
        (
            bad_link,
            json!({"response": {"link": "$.web"}}),
            "response.link",
            "http(s)",
        ),
        (
            json!({"id": 1, "first_name": "A", "last_name": "B", "tel": "x"}),
            json!({}),
            "response.phones",
            "$.phone, $.mobile",
        ),
    ];
    for (record, extra, key, detail) in cases {
        let server = MockServer::start().await;
        respond_once(
            &server,
            ResponseTemplate::new(200).set_body_json(json!({"data": [record]})),
        )
        .await;

        let error = adapter(&server, extra)
            .find(&query(2_000))
            .await
            .unwrap_err();

        let LookupError::BadResponse(message) = error else {
            panic!("expected a bad response for {key}, got {error:?}");
        };
        assert!(message.starts_with(key), "{message}");
        assert!(message.contains(detail), "{message}");
        assert!(!message.contains(secret_marker), "{message}");
        assert!(!message.contains("Ada"), "{message}");
    }
}

#[tokio::test]
async fn invalid_json_is_bad_response() {
    let server = MockServer::start().await;
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
    )
    .await;

    let error = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap_err();

    let LookupError::BadResponse(message) = error else {
        panic!("expected a bad response, got {error:?}");
    };
    assert!(!message.contains("maintenance"), "{message}");
}

#[tokio::test]
async fn optional_fields_may_be_absent() {
    let server = MockServer::start().await;
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"first_name": "Ada", "last_name": null, "phone": "(415) 555-0123", "mobile": null}],
        })),
    )
    .await;
    let adapter = adapter(
        &server,
        json!({"response": {"id": null, "link": "https://crm.example.com/contacts/{first_name}"}}),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(contacts[0].id, "0");
    assert_eq!(contacts[0].name.as_deref(), Some("Ada"));
    assert_eq!(contacts[0].email, None);
    assert_eq!(contacts[0].updated_at, None);
}

#[tokio::test]
async fn nested_fields_lists_and_unix_times() {
    let server = MockServer::start().await;
    respond_once(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "result": {"people": [{
                "person": {
                    "ref": "a/b?c#d",
                    "owner": {"name": "Team West"},
                    "emails": [{"value": "ada@example.com", "primary": true}],
                    "phones": [
                        {"label": "work", "value": "(415) 555-0123"},
                        {"label": "home", "value": "+1 212 555 0100"},
                    ],
                    "fax": 14155550999u64,
                    "modified": 1736929800,
                },
            }]},
        })),
    )
    .await;
    let adapter = adapter(
        &server,
        json!({"response": {
            "records": "$.result.people[*].person",
            "name": "{owner.name}",
            "link": "https://crm.example.com/people/{ref}",
            "email": "$.emails",
            "id": "$.ref",
            "updated_at": "$.modified",
            "phones": ["$.phones", "$.fax"],
        }}),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    let contact = &contacts[0];
    assert_eq!(contact.name.as_deref(), Some("Team West"));
    // A record value inside a link template stays one path segment.
    assert_eq!(contact.link, "https://crm.example.com/people/a%2Fb%3Fc%23d");
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
    assert_eq!(contact.id, "a/b?c#d");
    assert_eq!(
        contact.phones,
        ["(415) 555-0123", "+1 212 555 0100", "14155550999"]
    );
    assert_eq!(
        contact.updated_at,
        Some(Utc.with_ymd_and_hms(2025, 1, 15, 8, 30, 0).unwrap())
    );
}

#[tokio::test]
async fn post_sends_json_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/contacts/query"))
        .and(wiremock::matchers::body_json(json!({
            "filter": {"field": "phone", "value": "+14155550123"},
            "limit": 10,
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [record(501, "Ada", "(415) 555-0123")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        json!({
            "method": "POST",
            "path": "/v1/contacts/query",
            "query": null,
            "body": {"filter": {"field": "phone", "value": "{e164}"}, "limit": 10},
        }),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(contacts.len(), 1);
}

#[tokio::test]
async fn number_in_path_is_one_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/phones/%2B1%20415-555-0123/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        json!({"path": "/v1/phones/{international}/contacts", "query": null}),
    );

    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert!(contacts.is_empty());
}

#[tokio::test]
async fn hostile_constant_keeps_path_and_query_keys() {
    let tenant = "acme/../admin?x=1&y=2#top%2F\"q\"";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(
        &server,
        json!({
            "path": "/v1/{tenant}/contacts",
            "query": {"phone": "{e164}", "tenant": "{tenant}"},
            "headers": {"x-tenant": "{tenant}"},
            "constants": {"tenant": tenant},
        }),
    );

    adapter.find(&query(2_000)).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let url = &requests[0].url;
    let segments: Vec<&str> = url.path_segments().unwrap().collect();
    assert_eq!(segments.len(), 3, "{url}");
    assert_eq!(segments[0], "v1", "{url}");
    assert_eq!(segments[2], "contacts", "{url}");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let keys: Vec<&str> = pairs.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["phone", "tenant"], "{url}");
    assert_eq!(pairs[0].1, "+14155550123");
    assert_eq!(pairs[1].1, tenant);
    assert_eq!(requests[0].headers["x-tenant"], tenant);
}
