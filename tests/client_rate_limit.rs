//! `server.rate_limit_per_ip` on the real binary: a burst from one client is
//! cut to the limit with 429 and `Retry-After`, and the client is the peer
//! address unless `justcall.trust_forwarded_headers` lets `X-Forwarded-For`
//! or `Forwarded` name it.

mod common;

use common::{contacts_file, http_client, toml_string, BadgeRequest, Gateway};
use futures_util::future::join_all;
use serde_json::Value;
use tempfile::NamedTempFile;

const SECRET: &str = "rate-limit-test-secret";

const ADA_NUMBER: &str = "14155550123";
const ADA_NAME: &str = "Ada Lovelace";

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

/// `server.rate_limit_per_ip`: requests per second, and the burst allowed.
const RATE_LIMIT: usize = 2;

/// Requests sent at once in one burst.
const BURST: usize = 5;

/// Starts a gateway with a contacts file source, a limit of [`RATE_LIMIT`]
/// requests per second per client, and `trust_forwarded_headers` as given.
/// The file must outlive the gateway.
async fn start_gateway(trust_forwarded_headers: bool) -> (Gateway, NamedTempFile) {
    let contacts = contacts_file(CONTACTS);
    let config = format!(
        r#"
[server]
rate_limit_per_ip = {RATE_LIMIT}

[justcall]
secrets = ["{SECRET}"]
trust_forwarded_headers = {trust_forwarded_headers}

[[sources]]
name = "contacts"
type = "file"
path = {path}
"#,
        path = toml_string(&contacts.path().to_string_lossy())
    );
    (Gateway::start(&config).await, contacts)
}

/// One response of a burst.
#[derive(Debug)]
struct BurstResponse {
    status: u16,
    retry_after: Option<String>,
    text: String,
    body: Value,
}

/// Sends [`BURST`] signed requests for Ada's number at once, the request
/// numbered `i` with the extra header `extra_header(i)` when it returns one.
async fn send_burst(
    gateway: &Gateway,
    extra_header: impl Fn(usize) -> Option<(&'static str, String)>,
) -> Vec<BurstResponse> {
    let client = http_client();
    let sending = (0..BURST).map(|i| {
        let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
        let mut builder = client
            .post(gateway.badge_url())
            .header("content-type", "application/json")
            .body(request.body());
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        if let Some((name, value)) = extra_header(i) {
            builder = builder.header(name, value);
        }
        async move {
            let http_response = builder
                .send()
                .await
                .expect("the POST to the gateway failed");
            let status = http_response.status().as_u16();
            let retry_after = http_response
                .headers()
                .get("retry-after")
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
            let text = http_response.text().await.expect("reading the body failed");
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            BurstResponse {
                status,
                retry_after,
                text,
                body,
            }
        }
    });
    join_all(sending).await
}

/// Asserts that every response is Ada's badge.
fn assert_all_served(responses: &[BurstResponse], label: &str) {
    for response in responses {
        assert_eq!(response.status, 200, "{label}: {}", response.text);
        assert_eq!(
            response.body["data"]["contact_name"], ADA_NAME,
            "{label}: {}",
            response.text
        );
    }
}

/// Asserts that at most [`RATE_LIMIT`] responses are Ada's badge and the
/// rest are 429 with `Retry-After` and the code `rate_limited`.
fn assert_limited(responses: &[BurstResponse], label: &str) {
    let limited: Vec<&BurstResponse> = responses
        .iter()
        .filter(|response| response.status == 429)
        .collect();
    assert!(
        limited.len() >= BURST - RATE_LIMIT,
        "{label}: {} of {BURST} requests got 429, expected at least {}: {responses:#?}",
        limited.len(),
        BURST - RATE_LIMIT
    );
    for response in &limited {
        let retry_after = response
            .retry_after
            .as_deref()
            .unwrap_or_else(|| panic!("{label}: a 429 has no Retry-After: {response:?}"));
        let seconds: u64 = retry_after.parse().unwrap_or_else(|_| {
            panic!("{label}: Retry-After {retry_after:?} is not whole seconds")
        });
        assert!(seconds >= 1, "{label}: Retry-After is {seconds}");
        assert_eq!(
            response.body["success"], false,
            "{label}: {}",
            response.text
        );
        assert_eq!(
            response.body["error"]["code"], "rate_limited",
            "{label}: {}",
            response.text
        );
    }
    let served: Vec<&BurstResponse> = responses
        .iter()
        .filter(|response| response.status != 429)
        .collect();
    for response in served {
        assert_eq!(response.status, 200, "{label}: {}", response.text);
        assert_eq!(
            response.body["data"]["contact_name"], ADA_NAME,
            "{label}: {}",
            response.text
        );
    }
}

#[tokio::test]
async fn burst_from_one_client_gets_429() {
    let (gateway, _contacts) = start_gateway(false).await;

    let responses = send_burst(&gateway, |_| None).await;

    assert_limited(&responses, "a burst from one client");
}

#[tokio::test]
async fn trusted_forwarded_clients_are_counted_apart() {
    let (gateway, _contacts) = start_gateway(true).await;

    let distinct = send_burst(&gateway, |i| {
        Some(("x-forwarded-for", format!("10.0.0.1, 203.0.113.{}", i + 1)))
    })
    .await;
    assert_all_served(
        &distinct,
        "one request each from five X-Forwarded-For clients",
    );

    let distinct = send_burst(&gateway, |i| {
        Some(("forwarded", format!("for=198.51.100.{};proto=http", i + 1)))
    })
    .await;
    assert_all_served(&distinct, "one request each from five Forwarded clients");

    let same = send_burst(&gateway, |_| {
        Some(("x-forwarded-for", "192.0.2.9".to_string()))
    })
    .await;
    assert_limited(&same, "a burst from one X-Forwarded-For client");
}

#[tokio::test]
async fn untrusted_forwarded_clients_share_peer_address() {
    let (gateway, _contacts) = start_gateway(false).await;

    let responses = send_burst(&gateway, |i| {
        Some(("x-forwarded-for", format!("203.0.113.{}", i + 1)))
    })
    .await;

    assert_limited(&responses, "five X-Forwarded-For values from one peer");
}

/// A proxy such as nginx with `$proxy_add_x_forwarded_for`, or an AWS
/// Application Load Balancer, appends the address it saw to the
/// `X-Forwarded-For` the client sent. Only that last entry is the proxy's,
/// so the limit is keyed on it.
#[tokio::test]
async fn client_written_forwarded_entries_share_limit() {
    let (gateway, _contacts) = start_gateway(true).await;

    let responses = send_burst(&gateway, |i| {
        Some((
            "x-forwarded-for",
            format!("203.0.113.{}, 192.0.2.50", i + 1),
        ))
    })
    .await;

    assert_limited(
        &responses,
        "five client-written X-Forwarded-For entries, one proxy-appended address",
    );
}
