//! Contact search: the request HubSpot receives and the contacts built from
//! its response.

mod common;

use chrono::{TimeZone, Utc};
use common::{adapter, contact, query, search_response, SEARCH_PATH, TOKEN};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RECORD_URL: &str = "https://app.hubspot.com/contacts/44237313/record/0-1/501";

#[tokio::test]
async fn found_contact_is_returned() {
    let server = MockServer::start().await;
    let written_forms = json!([
        "+14155550123",
        "14155550123",
        "4155550123",
        "(415) 555-0123",
        "+1 415-555-0123"
    ]);
    let expected_body = json!({
        "filterGroups": [
            {"filters": [{"propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": "4155550123"}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_mobile_number", "operator": "EQ", "value": "4155550123"}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_international_phone_number", "operator": "EQ", "value": "14155550123"}]},
            {"filters": [{"propertyName": "phone", "operator": "IN", "values": written_forms}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": written_forms}]},
        ],
        "properties": ["firstname", "lastname", "email", "phone", "mobilephone"],
        "limit": 20,
    });
    let found = contact(
        "501",
        json!({
            "firstname": "Ada",
            "lastname": "Lovelace",
            "email": "ada@example.com",
            "phone": "(415) 555-0123",
            "mobilephone": "+1 415 555 0199",
        }),
        Some(RECORD_URL),
    );
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected_body))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(vec![found])))
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
    assert_eq!(contact.phones, vec!["(415) 555-0123", "+1 415 555 0199"]);
    assert_eq!(contact.link, RECORD_URL);
    let updated_at = Utc.with_ymd_and_hms(2025, 1, 15, 8, 30, 0).unwrap();
    assert_eq!(contact.updated_at, Some(updated_at));
}

#[tokio::test]
async fn no_match_gives_empty_list() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert!(contacts.is_empty(), "{contacts:?}");
}

#[tokio::test]
async fn fuzzy_results_keep_stored_phones() {
    // HubSpot's computed phone properties may match numbers that only share
    // digits with the caller's. Every result comes back, numbers untouched,
    // for the gateway to check.
    let server = MockServer::start().await;
    let results = vec![
        contact(
            "601",
            json!({"firstname": "Exact", "phone": "415.555.0123 "}),
            Some(RECORD_URL),
        ),
        contact(
            "602",
            json!({"firstname": "Other", "phone": "+44 415 555 0123"}),
            Some(RECORD_URL),
        ),
        contact(
            "603",
            json!({"lastname": "Mobile", "phone": "", "mobilephone": "+1 (415) 555-0124"}),
            Some(RECORD_URL),
        ),
    ];
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(results)))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    let ids: Vec<&str> = contacts.iter().map(|contact| contact.id.as_str()).collect();
    assert_eq!(ids, ["601", "602", "603"]);
    assert_eq!(contacts[0].phones, vec!["415.555.0123 "]);
    assert_eq!(contacts[1].phones, vec!["+44 415 555 0123"]);
    assert_eq!(contacts[2].phones, vec!["+1 (415) 555-0124"]);
    assert_eq!(contacts[2].name.as_deref(), Some("Mobile"));
}

#[tokio::test]
async fn contact_without_name_or_email() {
    let server = MockServer::start().await;
    let mut result = contact(
        "701",
        json!({"email": "  ", "phone": "+14155550123"}),
        Some(RECORD_URL),
    );
    result.as_object_mut().unwrap().remove("updatedAt");
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(vec![result])))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name, None);
    assert_eq!(contacts[0].email, None);
    assert_eq!(contacts[0].updated_at, None);
    assert_eq!(contacts[0].phones, vec!["+14155550123"]);
}

#[tokio::test]
async fn more_matches_than_one_page() {
    // Only the first page is read. The response's `paging` is ignored.
    let server = MockServer::start().await;
    let results: Vec<_> = (0..20)
        .map(|index| {
            contact(
                &format!("8{index:02}"),
                json!({"phone": "4155550123"}),
                Some(RECORD_URL),
            )
        })
        .collect();
    let body = json!({
        "total": 45,
        "results": results,
        "paging": {"next": {"after": "20", "link": "?after=20"}},
    });
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts.len(), 20);
}

#[tokio::test]
async fn base_url_with_path_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/hubspot{SEARCH_PATH}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&server)
        .await;

    let base_url = format!("{}/hubspot/", server.uri());
    let contacts = adapter(&server, json!({"base_url": base_url}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert!(contacts.is_empty());
}
