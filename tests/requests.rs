//! The gateway's responses, with a contacts file as its source, to requests
//! that are found or not, unsigned, wrongly signed, stale, malformed, too
//! large, or sent with the wrong method or to the wrong path. The last test
//! serves the bundled sample config as shipped.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{badgegate_command, contacts_file, toml_string, BadgeRequest, Gateway, BADGE_PATH};
use serde_json::json;
use tempfile::NamedTempFile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "requests-test-secret";

/// The demo secret the shipped `gateway.toml` uses when `JUSTCALL_API_SECRET`
/// is not set.
const DEMO_SECRET: &str = "badgegate-demo-secret-change-me";

const MAX_BODY_BYTES: usize = 256;

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n\
Grace Hopper,(212) 555-0147,,https://crm.example.com/contacts/2\n";

/// Starts a gateway with a contacts file source and a 256-byte body limit.
/// The file must outlive the gateway.
async fn start_gateway() -> (Gateway, NamedTempFile) {
    let contacts = contacts_file(CONTACTS);
    let config = format!(
        r#"
[server]
max_body_bytes = {MAX_BODY_BYTES}

[justcall]
secrets = ["{SECRET}"]

[[sources]]
name = "contacts"
type = "file"
path = {path}
"#,
        path = toml_string(&contacts.path().to_string_lossy())
    );
    (Gateway::start(&config).await, contacts)
}

#[tokio::test]
async fn signed_request_returns_badge() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.request_badge(SECRET, "14155550123").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], true, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    assert_eq!(
        reply.data("contact_profile_link"),
        "https://crm.example.com/contacts/1",
        "{}",
        reply.text
    );
    assert_eq!(
        reply.data("contact_email"),
        "ada@example.com",
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn contact_without_email_omits_field() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.request_badge(SECRET, "12125550147").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Grace Hopper", "{}", reply.text);
    assert!(
        reply.body["data"].get("contact_email").is_none(),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.request_badge(SECRET, "14155550199").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "not_found", "{}", reply.text);
}

#[tokio::test]
async fn unsigned_request_is_unauthorized() {
    let (gateway, _contacts) = start_gateway().await;
    let body = json!({"request_id": "unsigned-1", "contact_number": "14155550123"}).to_string();

    let reply = gateway.post(BADGE_PATH, body, &[]).await;

    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "unauthorized", "{}", reply.text);
    assert!(
        reply.error_message().contains("x-justcall-signature"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn tampered_signature_is_unauthorized() {
    let (gateway, _contacts) = start_gateway().await;
    let mut request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    let first = if request.signature.starts_with('0') {
        "1"
    } else {
        "0"
    };
    request.signature.replace_range(0..1, first);

    let reply = gateway.send(&request).await;

    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error_code(), "unauthorized", "{}", reply.text);
    assert!(
        reply.error_message().contains("does not match"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn signature_with_other_secret_is_unauthorized() {
    let (gateway, _contacts) = start_gateway().await;
    let request = BadgeRequest::signed("some-other-secret", &gateway.badge_url(), "14155550123");

    let reply = gateway.send(&request).await;

    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error_code(), "unauthorized", "{}", reply.text);
    assert!(
        reply.error_message().contains("does not match"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn hour_old_timestamp_is_unauthorized() {
    let (gateway, _contacts) = start_gateway().await;
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let request = BadgeRequest::signed_at(SECRET, &gateway.badge_url(), "14155550123", an_hour_ago);

    let reply = gateway.send(&request).await;

    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error_code(), "unauthorized", "{}", reply.text);
    assert!(
        reply.error_message().contains("timestamp"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn signature_version_v2_is_unauthorized() {
    let (gateway, _contacts) = start_gateway().await;
    let mut request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    request.version = "v2".to_string();

    let reply = gateway.send(&request).await;

    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error_code(), "unauthorized", "{}", reply.text);
    assert!(reply.error_message().contains("`v2`"), "{}", reply.text);
}

#[tokio::test]
async fn malformed_json_is_bad_request() {
    let (gateway, _contacts) = start_gateway().await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    let truncated = format!(
        r#"{{"request_id": "{}", "contact_number": "#,
        request.request_id
    );

    let reply = gateway
        .post(BADGE_PATH, truncated, &request.headers())
        .await;

    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "bad_request", "{}", reply.text);
    assert!(
        reply.error_message().contains("not valid JSON"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn missing_contact_number_is_bad_request() {
    let (gateway, _contacts) = start_gateway().await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    let body = json!({"request_id": request.request_id}).to_string();

    let reply = gateway.post(BADGE_PATH, body, &request.headers()).await;

    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error_code(), "bad_request", "{}", reply.text);
    assert!(
        reply.error_message().contains("contact_number"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn number_without_digits_is_bad_request() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.request_badge(SECRET, "abc").await;

    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error_code(), "bad_request", "{}", reply.text);
    assert!(
        reply.error_message().contains("contact_number"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn body_over_limit_is_payload_too_large() {
    let (gateway, _contacts) = start_gateway().await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    let padding = "x".repeat(1000);
    let body = json!({
        "request_id": request.request_id,
        "contact_number": "14155550123",
        "padding": padding,
    })
    .to_string();
    assert!(body.len() > MAX_BODY_BYTES);

    let reply = gateway.post(BADGE_PATH, body, &request.headers()).await;

    assert_eq!(reply.status, 413, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "payload_too_large", "{}", reply.text);
    assert!(
        reply.error_message().contains(&MAX_BODY_BYTES.to_string()),
        "{}",
        reply.text
    );
}

/// A body sent in chunks has no `content-length`, so the gateway can only
/// find it too large while reading it.
#[tokio::test]
async fn chunked_body_over_limit_is_payload_too_large() {
    let (gateway, _contacts) = start_gateway().await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), "14155550123");
    let chunk = "x".repeat(200);
    let mut raw = format!(
        "POST {BADGE_PATH} HTTP/1.1\r\n\
         host: 127.0.0.1:{port}\r\n\
         content-type: application/json\r\n\
         transfer-encoding: chunked\r\n\
         connection: close\r\n",
        port = gateway.port
    );
    for (name, value) in request.headers() {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    for _ in 0..5 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .expect("connecting to the gateway failed");
    stream
        .write_all(raw.as_bytes())
        .await
        .expect("sending the chunked request failed");
    let mut response = Vec::new();
    // The gateway may close the connection before reading the whole body,
    // which can end the read with a reset after the response arrived.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);

    assert!(
        response.starts_with("HTTP/1.1 413"),
        "the response is:\n{response}"
    );
    assert!(
        response.contains(r#""code":"payload_too_large""#),
        "the response is:\n{response}"
    );
}

#[tokio::test]
async fn get_on_endpoint_is_method_not_allowed() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.get(BADGE_PATH).await;

    assert_eq!(reply.status, 405, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "method_not_allowed", "{}", reply.text);
}

#[tokio::test]
async fn unknown_path_is_not_found() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.get("/no/such/path").await;

    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.body["success"], false, "{}", reply.text);
    assert_eq!(reply.error_code(), "unknown_path", "{}", reply.text);
}

#[tokio::test]
async fn healthz_returns_ok() {
    let (gateway, _contacts) = start_gateway().await;

    let reply = gateway.get("/healthz").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "ok", "{}", reply.text);
}

#[tokio::test]
async fn bundled_sample_config_serves_ada() {
    let repository = env!("CARGO_MANIFEST_DIR");
    let gateway = Gateway::start_command(|port| {
        let mut command = badgegate_command();
        command
            .current_dir(repository)
            .arg("--config")
            .arg("gateway.toml")
            .env("BADGEGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("BADGEGATE_ADMIN__LISTEN", "");
        command
    })
    .await;

    let reply = gateway.request_badge(DEMO_SECRET, "14155550123").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["success"], true, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    assert_eq!(
        reply.data("contact_profile_link"),
        "https://crm.example.com/contacts/1001",
        "{}",
        reply.text
    );
    assert_eq!(
        reply.data("contact_email"),
        "ada.lovelace@example.com",
        "{}",
        reply.text
    );
    let logs = gateway.logs();
    assert!(
        logs.contains("demo secret"),
        "no warning about the demo secret; the logs are:\n{logs}"
    );
}
