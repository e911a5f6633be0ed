//! Secrets, tokens, upstream error bodies and callers' numbers stay out of
//! the logs, even at `trace`, and out of every response body. A session of
//! requests goes through every path that logs: found, cached, not found,
//! HubSpot 500 and 401, bad signature, malformed body, and cache purges on
//! the admin listener with the right token, wrong tokens and none. It runs
//! once with text logs and once with JSON logs.

mod common;

use common::{free_port, http_client, toml_string, BadgeRequest, Gateway, Reply, BADGE_PATH};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JUSTCALL_SECRET: &str = "jc-secret-XYZZY-123";
const HUBSPOT_TOKEN: &str = "pat-na1-SECRET-TOKEN-42";
/// Text inside the error bodies the HubSpot mock returns.
const UPSTREAM_DETAIL: &str = "UPSTREAM-DETAIL-abc";
/// `admin.token`, presented with the purges that must succeed.
const ADMIN_TOKEN: &str = "adm-SECRET-77";
/// A wrong token presented to the admin listener and the badge endpoint.
const WRONG_ADMIN_TOKEN: &str = "adm-WRONG-presented-31";

/// Every value that must appear in no log line and no response body.
const SECRETS: &[&str] = &[
    JUSTCALL_SECRET,
    HUBSPOT_TOKEN,
    UPSTREAM_DETAIL,
    ADMIN_TOKEN,
    WRONG_ADMIN_TOKEN,
];

const FOUND_CALLER: &str = "14155550123";
const NOT_FOUND_CALLER: &str = "14155550188";
const SERVER_ERROR_CALLER: &str = "14155550177";
const AUTH_ERROR_CALLER: &str = "14155550166";

/// Every spelling of the session's numbers that must not appear in a log:
/// E.164, JustCall's digits, national digits and the formatted forms.
const FULL_NUMBERS: &[&str] = &[
    "+14155550123",
    "14155550123",
    "4155550123",
    "(415) 555-0123",
    "415-555-0123",
    "415 555 0123",
    "4155550188",
    "4155550177",
    "4155550166",
];

/// Masked form of the found caller's number, which the "answered" log line
/// carries. Its presence shows that the logs were captured at all.
const MASKED_FOUND_CALLER: &str = "***0123";

/// Mounts a contact search response for the caller whose national digits
/// are `national_digits`.
async fn mount_search(hubspot: &MockServer, national_digits: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .and(header(
            "authorization",
            format!("Bearer {HUBSPOT_TOKEN}").as_str(),
        ))
        .and(body_string_contains(format!("\"{national_digits}\"")))
        .respond_with(response)
        .expect(1..)
        .mount(hubspot)
        .await;
}

/// Returns the national digits of a US caller sent as `1` and ten digits.
fn national_digits(caller: &str) -> &str {
    &caller[1..]
}

/// Starts a HubSpot mock that returns Ada Lovelace for the found caller and
/// no contact for the not-found caller, and fails with HTTP 500 and 401 for the
/// other two. Both error bodies contain [`UPSTREAM_DETAIL`].
async fn start_hubspot_mock() -> MockServer {
    let hubspot = MockServer::start().await;

    let ada = json!({
        "total": 1,
        "results": [{
            "id": "501",
            "properties": {
                "firstname": "Ada",
                "lastname": "Lovelace",
                "email": "ada@example.com",
                "phone": "+1 (415) 555-0123",
                "mobilephone": null
            },
            "updatedAt": "2026-01-01T00:00:00Z",
            "url": "https://app.hubspot.com/contacts/44237313/record/0-1/501"
        }]
    });
    mount_search(
        &hubspot,
        national_digits(FOUND_CALLER),
        ResponseTemplate::new(200).set_body_json(ada),
    )
    .await;
    mount_search(
        &hubspot,
        national_digits(NOT_FOUND_CALLER),
        ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})),
    )
    .await;

    let error_body = |category: &str| {
        json!({
            "status": "error",
            "message": UPSTREAM_DETAIL,
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "category": category
        })
    };
    mount_search(
        &hubspot,
        national_digits(SERVER_ERROR_CALLER),
        ResponseTemplate::new(500).set_body_json(error_body("INTERNAL_ERROR")),
    )
    .await;
    mount_search(
        &hubspot,
        national_digits(AUTH_ERROR_CALLER),
        ResponseTemplate::new(401).set_body_json(error_body("INVALID_AUTHENTICATION")),
    )
    .await;

    hubspot
}

/// Builds a config at log level `trace`, with the admin listener on
/// `admin_port`. The deadline is long because this test is about log
/// content, not timing.
fn config(hubspot: &MockServer, log_format: &str, admin_port: u16) -> String {
    format!(
        r#"
[justcall]
secrets = ["{JUSTCALL_SECRET}"]

[admin]
listen = "127.0.0.1:{admin_port}"
token = "{ADMIN_TOKEN}"

[lookup]
deadline_ms = 10000

[log]
level = "trace"
format = "{log_format}"

[[sources]]
name = "hubspot"
type = "hubspot"
timeout_ms = 10000
access_token = "{HUBSPOT_TOKEN}"
base_url = {base_url}
portal_id = 44237313
"#,
        base_url = toml_string(&hubspot.uri())
    )
}

/// Sends the session of requests, checks that each took its intended path,
/// and returns the replies.
async fn run_session(gateway: &Gateway) -> Vec<Reply> {
    let mut replies = Vec::new();

    for spelling in [FOUND_CALLER, "+1 415 555 0123", "4155550123"] {
        let found = gateway.request_badge(JUSTCALL_SECRET, spelling).await;
        assert_eq!(found.status, 200, "{spelling}: {}", found.text);
        assert_eq!(
            found.data("contact_name"),
            "Ada Lovelace",
            "{spelling}: {}",
            found.text
        );
        replies.push(found);
    }

    let cases = [
        (NOT_FOUND_CALLER, "not_found"),
        (SERVER_ERROR_CALLER, "upstream_unavailable"),
        (AUTH_ERROR_CALLER, "upstream_unavailable"),
    ];
    for (caller, code) in cases {
        let reply = gateway.request_badge(JUSTCALL_SECRET, caller).await;
        assert_eq!(reply.status, 200, "{caller}: {}", reply.text);
        assert_eq!(reply.error_code(), code, "{caller}: {}", reply.text);
        replies.push(reply);
    }

    let bad_signature = BadgeRequest::signed("not-the-secret", &gateway.badge_url(), FOUND_CALLER);
    let rejected = gateway.send(&bad_signature).await;
    assert_eq!(rejected.status, 401, "{}", rejected.text);
    replies.push(rejected);

    let signed = BadgeRequest::signed(JUSTCALL_SECRET, &gateway.badge_url(), FOUND_CALLER);
    let truncated = format!(
        r#"{{"request_id": "{}", "contact_number": "{FOUND_CALLER}""#,
        signed.request_id
    );
    let malformed = gateway.post(BADGE_PATH, truncated, &signed.headers()).await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
    replies.push(malformed);

    replies
}

/// Sends a request with `method` to `path` on the admin listener at
/// `admin_port`, with `authorization` as the `Authorization` header when given.
async fn admin_request(
    admin_port: u16,
    method: reqwest::Method,
    path: &str,
    authorization: Option<String>,
) -> Reply {
    let mut request = http_client().request(method, format!("http://127.0.0.1:{admin_port}{path}"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request
        .send()
        .await
        .expect("the request to the admin listener failed");
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .expect("reading the admin listener's response failed");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Reply { status, text, body }
}

/// Purges with the right token, wrong tokens and none, reads every other
/// admin endpoint, and presents the wrong token to the badge endpoint too.
/// Checks each status and returns the replies.
async fn run_admin_session(gateway: &Gateway, admin_port: u16) -> Vec<Reply> {
    let right = Some(format!("Bearer {ADMIN_TOKEN}"));
    let wrong = Some(format!("Bearer {WRONG_ADMIN_TOKEN}"));
    let cases = [
        ("/cache/14155550123", right.clone(), 200),
        ("/cache/14155550123", wrong.clone(), 401),
        ("/cache", wrong.clone(), 401),
        (
            "/cache",
            Some(format!("Bearer {ADMIN_TOKEN}-and-more")),
            401,
        ),
        ("/cache", Some(ADMIN_TOKEN.to_string()), 401),
        ("/cache", Some(WRONG_ADMIN_TOKEN.to_string()), 401),
        ("/cache", None, 401),
        ("/cache", right.clone(), 200),
    ];
    let mut replies = Vec::new();
    for (path, authorization, status) in cases {
        let description = format!("DELETE {path} with {authorization:?}");
        let reply = admin_request(admin_port, reqwest::Method::DELETE, path, authorization).await;
        assert_eq!(reply.status, status, "{description}: {}", reply.text);
        replies.push(reply);
    }
    for (path, status) in [
        ("/metrics", 200),
        ("/readyz", 200),
        ("/healthz", 200),
        ("/no-such-path", 404),
    ] {
        let reply = admin_request(admin_port, reqwest::Method::GET, path, wrong.clone()).await;
        assert_eq!(reply.status, status, "GET {path}: {}", reply.text);
        replies.push(reply);
    }

    let mut presented =
        BadgeRequest::signed(JUSTCALL_SECRET, &gateway.badge_url(), FOUND_CALLER).headers();
    presented.retain(|(name, _)| *name != "x-justcall-signature");
    presented.push(("authorization", format!("Bearer {WRONG_ADMIN_TOKEN}")));
    let body = json!({"request_id": "leak-test-1", "contact_number": FOUND_CALLER}).to_string();
    let unsigned = gateway.post(BADGE_PATH, body, &presented).await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text);
    replies.push(unsigned);

    replies
}

fn assert_logs_are_clean(logs: &str) {
    for secret in SECRETS {
        assert!(
            !logs.contains(secret),
            "the logs contain `{secret}`:\n{logs}"
        );
    }
    for number in FULL_NUMBERS {
        assert!(
            !logs.contains(number),
            "the logs contain the full number `{number}`:\n{logs}"
        );
    }
    assert!(
        logs.contains(MASKED_FOUND_CALLER),
        "the logs lack the masked number `{MASKED_FOUND_CALLER}`, so they may not have been captured:\n{logs}"
    );
    for line in ["purged a cached answer", "rejected a cache-control request"] {
        assert!(
            logs.contains(line),
            "the logs lack `{line}`, so the admin session may not have been logged:\n{logs}"
        );
    }
}

fn assert_replies_are_clean(replies: &[Reply]) {
    for reply in replies {
        for secret in SECRETS {
            assert!(
                !reply.text.contains(secret),
                "a response contains `{secret}`: {}",
                reply.text
            );
        }
    }
}

#[tokio::test]
async fn text_trace_logs_hold_no_secrets() {
    let hubspot = start_hubspot_mock().await;
    let admin_port = free_port();
    let gateway = Gateway::start(&config(&hubspot, "text", admin_port)).await;

    let mut replies = run_session(&gateway).await;
    replies.extend(run_admin_session(&gateway, admin_port).await);

    assert_replies_are_clean(&replies);
    assert_logs_are_clean(&gateway.logs());
    hubspot.verify().await;
}

#[tokio::test]
async fn json_trace_logs_hold_no_secrets() {
    let hubspot = start_hubspot_mock().await;
    let admin_port = free_port();
    let gateway = Gateway::start(&config(&hubspot, "json", admin_port)).await;

    let mut replies = run_session(&gateway).await;
    replies.extend(run_admin_session(&gateway, admin_port).await);

    assert_replies_are_clean(&replies);
    assert_logs_are_clean(&gateway.logs());
    hubspot.verify().await;
}
