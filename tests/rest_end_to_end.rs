//! The shipped REST mappings (`examples/pipedrive.toml`, `examples/zoho.toml`
//! and `examples/rest.toml`) against wiremock APIs shaped like the vendors'
//! documented responses, `badgegate check` on each of them, and one signed
//! request through the real binary with a Pipedrive source.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use badgegate::config::load_text;
use badgegate::Registry;
use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{Adapter, LookupError, Query};
use common::{badgegate_command, BadgeRequest, Gateway};
use serde_json::{json, Value};
use tempfile::TempDir;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JUSTCALL_SECRET: &str = "rest-end-to-end-secret";
const PIPEDRIVE_TOKEN: &str = "pipedrive-token-0c5e91";
const PIPEDRIVE_SEARCH_PATH: &str = "/api/v1/persons/search";
const PIPEDRIVE_BASE_URL_LINE: &str = "base_url = \"https://${PIPEDRIVE_COMPANY}.pipedrive.com\"";
const ZOHO_CLIENT_SECRET: &str = "zoho-client-secret-77ab";
const ZOHO_REFRESH_TOKEN: &str = "1000.zoho-refresh-token-d41f";
const ZOHO_SEARCH_PATH: &str = "/crm/v2/Contacts/search";
const ZOHO_TOKEN_PATH: &str = "/oauth/v2/token";
const CRM_TOKEN: &str = "crm-token-9b2d70";

/// The URL the examples verify signatures against when `JUSTCALL_BADGE_URL`
/// is not set.
const DEFAULT_PUBLIC_URL: &str = "https://badges.example.com/justcall/contact-badge";

fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Returns the example's text with each `(from, to)` replacement made; each
/// `from` must occur in it.
fn example_text(name: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(example_path(name)).expect("reading the example failed");
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

/// Loads an example with `replacements` made and `variables` as the whole
/// environment, and builds its only source.
fn example_adapter(
    name: &str,
    replacements: &[(&str, &str)],
    variables: &[(&str, &str)],
) -> Arc<dyn Adapter> {
    let text = example_text(name, replacements);
    let variables: HashMap<String, String> = variables
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let settings = load_text(&example_path(name), &text, &|name| {
        variables.get(name).cloned()
    })
    .unwrap_or_else(|problems| panic!("{name} does not load: {problems:?}"));
    let mut sources = Registry::builtin()
        .build_sources(&settings)
        .unwrap_or_else(|problems| panic!("{name} does not build: {problems:?}"));
    assert_eq!(sources.len(), 1, "{name} has one source");
    sources.remove(0).adapter
}

/// Builds a lookup of +1 415-555-0123 with a 2 s deadline.
fn query() -> Query {
    let caller = parse_caller("14155550123", "US".parse().unwrap()).unwrap();
    Query::new(
        caller,
        tokio::time::Instant::now() + Duration::from_secs(2),
        "req-rest-1",
    )
}

fn pipedrive_adapter(server: &MockServer) -> Arc<dyn Adapter> {
    let base_url = format!("base_url = \"{}\"", server.uri());
    example_adapter(
        "pipedrive.toml",
        &[(PIPEDRIVE_BASE_URL_LINE, &base_url)],
        &[
            ("JUSTCALL_API_SECRET", JUSTCALL_SECRET),
            ("PIPEDRIVE_COMPANY", "acme"),
            ("PIPEDRIVE_API_TOKEN", PIPEDRIVE_TOKEN),
        ],
    )
}

/// Builds Pipedrive's person search response with `items`, each a person
/// wrapped with its score, and the pagination block Pipedrive adds.
fn pipedrive_response(persons: Vec<Value>) -> Value {
    let items: Vec<Value> = persons
        .into_iter()
        .map(|person| json!({"result_score": 1.0, "item": person}))
        .collect();
    json!({
        "success": true,
        "data": {"items": items},
        "additional_data": {
            "pagination": {"start": 0, "limit": 100, "more_items_in_collection": true, "next_start": 100}
        }
    })
}

fn pipedrive_person(id: u64, name: &str, phone: &str) -> Value {
    json!({
        "id": id,
        "type": "person",
        "name": name,
        "phones": [phone],
        "emails": ["ada@example.com"],
        "visible_to": 3,
        "owner": {"id": 7},
        "organization": {"id": 3, "name": "Analytical Engines", "address": null},
        "custom_fields": [],
        "notes": []
    })
}

async fn mount_pipedrive_search(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(PIPEDRIVE_SEARCH_PATH))
        .and(query_param("term", "+14155550123"))
        .and(query_param("fields", "phone"))
        .and(query_param("exact_match", "true"))
        .and(header("x-api-token", PIPEDRIVE_TOKEN))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn pipedrive_found_person() {
    let server = MockServer::start().await;
    mount_pipedrive_search(
        &server,
        ResponseTemplate::new(200).set_body_json(pipedrive_response(vec![pipedrive_person(
            42,
            "Ada Lovelace",
            "+1 415 555 0123",
        )])),
    )
    .await;

    let contacts = pipedrive_adapter(&server).find(&query()).await.unwrap();

    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].id, "42");
    assert_eq!(contacts[0].name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contacts[0].email.as_deref(), Some("ada@example.com"));
    assert_eq!(contacts[0].phones, ["+1 415 555 0123"]);
    assert_eq!(contacts[0].link, "https://acme.pipedrive.com/person/42");
}

#[tokio::test]
async fn pipedrive_no_person() {
    let server = MockServer::start().await;
    let mut empty = pipedrive_response(Vec::new());
    empty["additional_data"]["pagination"]["more_items_in_collection"] = json!(false);
    mount_pipedrive_search(&server, ResponseTemplate::new(200).set_body_json(empty)).await;

    let contacts = pipedrive_adapter(&server).find(&query()).await.unwrap();

    assert!(contacts.is_empty(), "{contacts:?}");
}

#[tokio::test]
async fn pipedrive_rejected_token() {
    let server = MockServer::start().await;
    mount_pipedrive_search(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({
            "success": false,
            "error": "unauthorized access",
            "errorCode": 401,
            "error_info": "Please check the Pipedrive API documentation."
        })),
    )
    .await;

    let error = pipedrive_adapter(&server).find(&query()).await.unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 401 });
}

fn zoho_adapter(server: &MockServer) -> Arc<dyn Adapter> {
    let uri = server.uri();
    example_adapter(
        "zoho.toml",
        &[],
        &[
            ("JUSTCALL_API_SECRET", JUSTCALL_SECRET),
            ("ZOHO_API_DOMAIN", &uri),
            ("ZOHO_ACCOUNTS_URL", &uri),
            ("ZOHO_CLIENT_ID", "1000.ZOHOCLIENT"),
            ("ZOHO_CLIENT_SECRET", ZOHO_CLIENT_SECRET),
            ("ZOHO_REFRESH_TOKEN", ZOHO_REFRESH_TOKEN),
        ],
    )
}

/// Mounts Zoho's token endpoint for the refresh flow, returning
/// `access_token` and expecting `calls` requests.
async fn mount_zoho_token(server: &MockServer, access_token: &str, calls: u64) {
    Mock::given(method("POST"))
        .and(path(ZOHO_TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("client_id=1000.ZOHOCLIENT"))
        .and(body_string_contains(format!(
            "client_secret={ZOHO_CLIENT_SECRET}"
        )))
        .and(body_string_contains(
            "refresh_token=1000.zoho-refresh-token-d41f",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access_token,
            "api_domain": "https://www.zohoapis.com",
            "token_type": "Bearer",
            "expires_in": 3600
        })))
        .expect(calls)
        .mount(server)
        .await;
}

async fn mount_zoho_search(
    server: &MockServer,
    phone: &str,
    response: ResponseTemplate,
    calls: u64,
) {
    Mock::given(method("GET"))
        .and(path(ZOHO_SEARCH_PATH))
        .and(query_param("phone", phone))
        .and(header("authorization", "Zoho-oauthtoken 1000.access-1"))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

fn zoho_contacts() -> Value {
    json!({
        "data": [{
            "Owner": {"name": "Agent Smith", "id": "4150868000000225013", "email": "agent@example.com"},
            "Email": "ada@example.com",
            "Full_Name": "Ada Lovelace",
            "First_Name": "Ada",
            "Last_Name": "Lovelace",
            "Phone": "(415) 555-0123",
            "Mobile": null,
            "Modified_Time": "2025-01-15T00:30:00-08:00",
            "id": "4150868000000224005"
        }],
        "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}
    })
}

#[tokio::test]
async fn zoho_found_contact_by_second_form() {
    let server = MockServer::start().await;
    mount_zoho_token(&server, "1000.access-1", 1).await;
    mount_zoho_search(&server, "+14155550123", ResponseTemplate::new(204), 1).await;
    mount_zoho_search(
        &server,
        "4155550123",
        ResponseTemplate::new(200).set_body_json(zoho_contacts()),
        1,
    )
    .await;

    let contacts = zoho_adapter(&server).find(&query()).await.unwrap();

    assert_eq!(contacts.len(), 1);
    let contact = &contacts[0];
    assert_eq!(contact.id, "4150868000000224005");
    assert_eq!(contact.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
    assert_eq!(contact.phones, ["(415) 555-0123"]);
    assert_eq!(
        contact.link,
        "https://crm.zoho.com/crm/tab/Contacts/4150868000000224005"
    );
    assert_eq!(
        contact.updated_at.map(|time| time.to_rfc3339()),
        Some("2025-01-15T08:30:00+00:00".to_string())
    );
}

#[tokio::test]
async fn zoho_empty_204_is_no_contact() {
    let server = MockServer::start().await;
    mount_zoho_token(&server, "1000.access-1", 1).await;
    mount_zoho_search(&server, "+14155550123", ResponseTemplate::new(204), 1).await;
    mount_zoho_search(&server, "4155550123", ResponseTemplate::new(204), 1).await;

    let contacts = zoho_adapter(&server).find(&query()).await.unwrap();

    assert!(contacts.is_empty(), "{contacts:?}");
}

#[tokio::test]
async fn zoho_rejected_token_is_refreshed_once() {
    let server = MockServer::start().await;
    mount_zoho_token(&server, "1000.access-1", 2).await;
    mount_zoho_search(
        &server,
        "+14155550123",
        ResponseTemplate::new(401).set_body_json(json!({
            "code": "INVALID_TOKEN",
            "details": {},
            "message": "invalid oauth token",
            "status": "error"
        })),
        2,
    )
    .await;

    let error = zoho_adapter(&server).find(&query()).await.unwrap_err();

    assert_eq!(error, LookupError::Auth { status: 401 });
}

fn rest_adapter(server: &MockServer) -> Arc<dyn Adapter> {
    let uri = server.uri();
    example_adapter(
        "rest.toml",
        &[],
        &[
            ("JUSTCALL_API_SECRET", JUSTCALL_SECRET),
            ("CRM_API_URL", &uri),
            ("CRM_API_TOKEN", CRM_TOKEN),
        ],
    )
}

async fn mount_rest_search(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/v1/contacts"))
        .and(query_param("phone", "+14155550123"))
        .and(query_param("limit", "20"))
        .and(header(
            "authorization",
            format!("Bearer {CRM_TOKEN}").as_str(),
        ))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn rest_example_found_contact() {
    let server = MockServer::start().await;
    mount_rest_search(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "contacts": [{
                "id": "c-1001",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "phone": "415.555.0123",
                "mobile": null,
                "updated_at": 1736929800
            }],
            "next_cursor": "eyJwYWdlIjoyfQ"
        })),
    )
    .await;

    let contacts = rest_adapter(&server).find(&query()).await.unwrap();

    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(contacts[0].link, "https://crm.example.com/contacts/c-1001");
    assert_eq!(contacts[0].phones, ["415.555.0123"]);
}

#[tokio::test]
async fn rest_example_not_found_and_rejected() {
    let cases = [
        (
            ResponseTemplate::new(200).set_body_json(json!({"contacts": []})),
            Ok(0),
        ),
        (
            ResponseTemplate::new(404).set_body_json(json!({"error": "not found"})),
            Ok(0),
        ),
        (
            ResponseTemplate::new(401),
            Err(LookupError::Auth { status: 401 }),
        ),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        mount_rest_search(&server, response).await;

        let result = rest_adapter(&server).find(&query()).await;

        assert_eq!(result.map(|contacts| contacts.len()), expected);
    }
}

/// Returns the variables an example reads without a default, with test
/// values.
fn example_variables(name: &str) -> Vec<(&'static str, &'static str)> {
    let mut variables = vec![("JUSTCALL_API_SECRET", JUSTCALL_SECRET)];
    variables.extend(match name {
        "pipedrive.toml" => vec![
            ("PIPEDRIVE_COMPANY", "acme"),
            ("PIPEDRIVE_API_TOKEN", PIPEDRIVE_TOKEN),
        ],
        "zoho.toml" => vec![
            ("ZOHO_CLIENT_ID", "1000.ZOHOCLIENT"),
            ("ZOHO_CLIENT_SECRET", ZOHO_CLIENT_SECRET),
            ("ZOHO_REFRESH_TOKEN", ZOHO_REFRESH_TOKEN),
        ],
        "rest.toml" => vec![
            ("CRM_API_URL", "https://api.example.com"),
            ("CRM_API_TOKEN", CRM_TOKEN),
        ],
        other => panic!("no variables listed for {other}"),
    });
    variables
}

/// Variables the examples read with a default; removed so that the
/// defaults apply.
const OPTIONAL_VARIABLES: [&str; 4] = [
    "JUSTCALL_BADGE_URL",
    "ZOHO_API_DOMAIN",
    "ZOHO_ACCOUNTS_URL",
    "ZOHO_CRM_URL",
];

/// Runs `badgegate check` on an example with `variables` set and every
/// other variable the examples read removed.
fn check_example(name: &str, variables: &[(&str, &str)]) -> Output {
    let mut command = badgegate_command();
    command.arg("check").arg("--config").arg(example_path(name));
    for (variable, _) in example_variables("pipedrive.toml")
        .into_iter()
        .chain(example_variables("zoho.toml"))
        .chain(example_variables("rest.toml"))
    {
        command.env_remove(variable);
    }
    for variable in OPTIONAL_VARIABLES {
        command.env_remove(variable);
    }
    command.envs(variables.iter().copied());
    command.output().expect("running badgegate check failed")
}

#[test]
fn check_accepts_examples_with_variables_set() {
    for name in ["pipedrive.toml", "zoho.toml", "rest.toml"] {
        let output = check_example(name, &example_variables(name));

        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{name}: {stderr}");
        assert!(stdout.contains("valid"), "{name}: {stdout}");
        assert!(stdout.contains("(rest)"), "{name}: {stdout}");
    }
}

#[test]
fn check_names_missing_variable() {
    for name in ["pipedrive.toml", "zoho.toml", "rest.toml"] {
        let all = example_variables(name);
        for (missing, _) in &all {
            let variables: Vec<(&str, &str)> = all
                .iter()
                .copied()
                .filter(|(variable, _)| variable != missing)
                .collect();

            let output = check_example(name, &variables);

            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{name} without {missing}: {stderr}"
            );
            assert!(
                stderr.contains(&format!("`{missing}` is not set")),
                "{name} without {missing}: {stderr}"
            );
        }
    }
}

#[tokio::test]
async fn signed_request_gets_pipedrive_badge() {
    let pipedrive = MockServer::start().await;
    mount_pipedrive_search(
        &pipedrive,
        ResponseTemplate::new(200).set_body_json(pipedrive_response(vec![
            pipedrive_person(41, "Someone Else", "+44 20 7946 0958"),
            pipedrive_person(42, "Ada Lovelace", "(415) 555-0123"),
        ])),
    )
    .await;
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let config_path = dir.path().join("pipedrive.toml");
    let base_url = format!("base_url = \"{}\"", pipedrive.uri());
    let text = example_text("pipedrive.toml", &[(PIPEDRIVE_BASE_URL_LINE, &base_url)]);

    let gateway = Gateway::start_command(|port| {
        let listen = format!("listen = \"127.0.0.1:{port}\"");
        let config =
            text.replace("listen = \"0.0.0.0:8080\"", &listen) + "\n[admin]\nlisten = \"\"\n";
        std::fs::write(&config_path, config).expect("writing the config failed");
        let mut command = badgegate_command();
        command
            .arg("--config")
            .arg(&config_path)
            .env_remove("JUSTCALL_BADGE_URL")
            .envs(example_variables("pipedrive.toml"));
        command
    })
    .await;

    let request = BadgeRequest::signed(JUSTCALL_SECRET, DEFAULT_PUBLIC_URL, "14155550123");
    let reply = gateway.send(&request).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], json!(true), "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace");
    assert_eq!(
        reply.data("contact_profile_link"),
        "https://acme.pipedrive.com/person/42"
    );
    assert_eq!(reply.data("contact_email"), "ada@example.com");
    assert!(!gateway.logs().contains(PIPEDRIVE_TOKEN));
}
