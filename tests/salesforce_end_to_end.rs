//! The gateway with a Salesforce source, against a wiremock token endpoint
//! and REST API: a Contact found by a formatted phone number, a Lead found
//! by its mobile number, one token for many lookups, and an expired session
//! recovered without the caller noticing.

mod common;

use common::{toml_string, Gateway};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "salesforce-end-to-end-secret";
const CLIENT_SECRET: &str = "sf-client-secret-e2e";
const SEARCH_PATH: &str = "/services/data/v62.0/search/";
const TOKEN_PATH: &str = "/services/oauth2/token";

fn config(salesforce: &MockServer) -> String {
    format!(
        r#"
[justcall]
secrets = ["{SECRET}"]

[[sources]]
name = "salesforce"
type = "salesforce"
timeout_ms = 1000
login_url = {login_url}
lightning_url = "https://acme.lightning.force.com"
auth = {{ type = "client_credentials", client_id = "client-e2e", client_secret = "{CLIENT_SECRET}" }}
"#,
        login_url = toml_string(&salesforce.uri())
    )
}

fn token(salesforce: &MockServer, access_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "instance_url": salesforce.uri(),
        "id": "https://login.salesforce.com/id/00D/005",
        "token_type": "Bearer",
        "issued_at": "1733300000000",
        "signature": "c2lnbmF0dXJl",
    })
}

fn record(kind: &str, id: &str, name: &str, phone: Option<&str>, mobile: Option<&str>) -> Value {
    json!({
        "attributes": {"type": kind, "url": format!("/services/data/v62.0/sobjects/{kind}/{id}")},
        "Id": id,
        "Name": name,
        "Email": null,
        "Phone": phone,
        "MobilePhone": mobile,
        "LastModifiedDate": "2026-01-01T00:00:00.000+0000",
    })
}

#[tokio::test]
async fn contact_and_lead_are_found_with_lightning_links() {
    let salesforce = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token(&salesforce, "token-1")))
        .expect(1)
        .mount(&salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(move |request: &wiremock::Request| {
            let query = request.url.query().unwrap_or_default().to_string();
            let records = if query.contains("4155550123") {
                vec![record(
                    "Contact",
                    "003A1",
                    "Ada Lovelace",
                    Some("(415) 555-0123"),
                    None,
                )]
            } else if query.contains("4155550177") {
                vec![record(
                    "Lead",
                    "00QB2",
                    "Lea Lead",
                    None,
                    Some("+1 415 555 0177"),
                )]
            } else {
                vec![]
            };
            ResponseTemplate::new(200).set_body_json(json!({"searchRecords": records}))
        })
        .mount(&salesforce)
        .await;
    let gateway = Gateway::start(&config(&salesforce)).await;

    let contact = gateway.request_badge(SECRET, "14155550123").await;
    assert_eq!(contact.status, 200, "{}", contact.text);
    assert_eq!(contact.data("contact_name"), "Ada Lovelace");
    assert_eq!(
        contact.data("contact_profile_link"),
        "https://acme.lightning.force.com/lightning/r/Contact/003A1/view"
    );

    let lead = gateway.request_badge(SECRET, "14155550177").await;
    assert_eq!(lead.status, 200, "{}", lead.text);
    assert_eq!(
        lead.data("contact_profile_link"),
        "https://acme.lightning.force.com/lightning/r/Lead/00QB2/view"
    );

    for index in 0..10 {
        let reply = gateway
            .request_badge(SECRET, &format!("1415555020{index}"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    salesforce.verify().await;
    assert!(!gateway.logs().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn expired_session_is_recovered_without_an_error() {
    let salesforce = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token(&salesforce, "token-1")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token(&salesforce, "token-2")))
        .expect(1)
        .mount(&salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!([
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ])))
        .mount(&salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "searchRecords": [record("Contact", "003A1", "Ada Lovelace", Some("(415) 555-0123"), None)]
        })))
        .expect(1)
        .mount(&salesforce)
        .await;
    let gateway = Gateway::start(&config(&salesforce)).await;

    let reply = gateway.request_badge(SECRET, "14155550123").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace");
    salesforce.verify().await;
}
