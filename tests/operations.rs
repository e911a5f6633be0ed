//! The operations features of the real binary: Prometheus metrics, health
//! and readiness, cache purges on the admin listener, JSON logs, config
//! reload on SIGHUP, and the `lookup` trace.
//!
//! Every gateway here has its admin listener on a port of its own, taken from
//! [`free_port`] when the config is written.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{
    badgegate_command, contacts_file, free_port, http_client, toml_string, BadgeRequest, Gateway,
    Reply, BADGE_PATH,
};
use serde_json::{json, Value};
use tempfile::TempDir;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const SECRET: &str = "operations-test-secret";
const HUBSPOT_TOKEN: &str = "pat-na1-operations-token";
const ADMIN_TOKEN: &str = "adm1n";
const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";
const ACCOUNT_INFO_PATH: &str = "/account-info/v3/details";

const ADA_NUMBER: &str = "14155550123";
const ADA_LINK: &str = "https://app.hubspot.com/contacts/1/record/0-1/501";

const ADA_CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

/// Contacts that only the source added by the reload contains.
const SECOND_SOURCE_CONTACTS: &str = "name,phone,email,profile_link\n\
Grace Hopper,(212) 555-0147,,https://crm.example.com/contacts/2\n\
Katherine Johnson,(757) 555-0142,,https://crm.example.com/contacts/3\n";

/// Maximum wait for something the gateway does in the background: a source's
/// start-up, a reload, a log line. Generous, because debug builds run side by
/// side on a busy machine.
const BACKGROUND_BOUND: Duration = Duration::from_secs(15);

/// Interval between two polls of the gateway.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Builds an `[admin]` table that listens on `port` and, when given, has `token`.
///
/// NOTE: the harness retries a start whose port was taken with a new badge
/// port only, so a clash on the admin port fails the test.
fn admin_table(port: u16, token: Option<&str>) -> String {
    let mut table = format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n");
    if let Some(token) = token {
        table.push_str(&format!("token = {}\n", toml_string(token)));
    }
    table
}

/// Builds a `[[sources]]` entry of type `file` that reads `path`.
fn file_source(name: &str, path: &std::path::Path) -> String {
    format!(
        "\n[[sources]]\nname = \"{name}\"\ntype = \"file\"\npath = {}\n",
        toml_string(&path.to_string_lossy())
    )
}

/// Builds a `[[sources]]` entry of type `hubspot` named `hubspot` that calls
/// `hubspot`, followed by `extra` lines of the same table.
fn hubspot_source(hubspot: &MockServer, extra: &str) -> String {
    format!(
        "\n[[sources]]\nname = \"hubspot\"\ntype = \"hubspot\"\naccess_token = \"{HUBSPOT_TOKEN}\"\n\
         base_url = {}\nrate_limit_per_sec = 0\n{extra}\n",
        toml_string(&hubspot.uri())
    )
}

/// Builds a HubSpot search result for a contact stored with `phone`.
fn hubspot_contact(id: &str, first_name: &str, last_name: &str, phone: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "firstname": first_name,
            "lastname": last_name,
            "email": format!("{}@example.com", first_name.to_lowercase()),
            "phone": phone,
            "mobilephone": null
        },
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "archived": false,
        "url": format!("https://app.hubspot.com/contacts/1/record/0-1/{id}")
    })
}

/// Builds a HubSpot search response that returns `contacts`.
fn search_response(contacts: Vec<Value>) -> Value {
    json!({"total": contacts.len(), "results": contacts})
}

/// Builds a HubSpot search response that returns Ada Lovelace, stored with
/// her number in another format.
fn ada_search_response() -> Value {
    search_response(vec![hubspot_contact(
        "501",
        "Ada",
        "Lovelace",
        "+1 (415) 555-0123",
    )])
}

/// Matches a contact search sent with the configured token.
fn contact_search() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(header(
            "authorization",
            format!("Bearer {HUBSPOT_TOKEN}").as_str(),
        ))
}

/// Matches the account-info request that HubSpot sources without
/// `portal_id` send at start-up.
fn account_info() -> MockBuilder {
    Mock::given(method("GET")).and(path(ACCOUNT_INFO_PATH))
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

/// Reads a response into the harness's [`Reply`].
async fn read_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .expect("reading the admin listener's response body failed");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, text, body }
}

/// The admin listener of a gateway a test started.
struct Admin {
    port: u16,
    client: reqwest::Client,
}

impl Admin {
    fn new(port: u16) -> Admin {
        Admin {
            port,
            client: http_client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn get(&self, path: &str) -> Reply {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the GET to the admin listener failed");
        read_reply(response).await
    }

    /// Sends a DELETE with `authorization` as the `Authorization` header, or
    /// without the header when it is `None`.
    async fn delete(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut request = self.client.delete(self.url(path));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request
            .send()
            .await
            .expect("the DELETE to the admin listener failed");
        read_reply(response).await
    }

    /// Scrapes `GET /metrics` and parses it.
    async fn metrics(&self) -> Metrics {
        let reply = self.get("/metrics").await;
        assert_eq!(reply.status, 200, "GET /metrics: {}", reply.text);
        Metrics::parse(&reply.text)
    }
}

/// One sample line of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed `GET /metrics` response.
#[derive(Debug)]
struct Metrics {
    text: String,
    samples: Vec<Sample>,
}

impl Metrics {
    /// Parses the Prometheus text exposition format: `# ...` comment lines,
    /// and `name{label="value",...} value [timestamp]` or `name value
    /// [timestamp]` sample lines. Panics on any other line.
    fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                parse_sample(line).unwrap_or_else(|error| {
                    panic!("invalid metrics line `{line}`: {error}\nthe whole output:\n{text}")
                })
            })
            .collect();
        Metrics {
            text: text.to_string(),
            samples,
        }
    }

    /// Returns the value of the sample named `name` whose labels are exactly
    /// `labels`, or `None` when there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let expected_labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == expected_labels)
            .map(|sample| sample.value)
    }

    /// Returns every sample named `name`.
    fn named(&self, name: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .collect()
    }
}

/// Parses one sample line.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value after the metric name")?;
    let name = &line[..name_end];
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid_name {
        return Err(format!("`{name}` is not a metric name"));
    }

    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after_close) = rest.strip_prefix('}') {
                rest = after_close;
                break;
            }
            let equals = rest.find('=').ok_or("a label has no `=`")?;
            let label = rest[..equals].trim().to_string();
            rest = rest[equals + 1..]
                .strip_prefix('"')
                .ok_or("a label value is not quoted")?;
            let (value, after_value) = parse_label_value(rest)?;
            labels.insert(label, value);
            rest = after_value;
        }
    }

    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        value => value
            .parse::<f64>()
            .map_err(|error| format!("`{value}` is not a number: {error}"))?,
    };
    // An optional timestamp in milliseconds may follow, and nothing else.
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("`{timestamp}` is not a timestamp"))?;
    }
    if fields.next().is_some() {
        return Err("text after the value and timestamp".to_string());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads a label value up to its closing quote, undoing the `\\`, `\"` and
/// `\n` escapes, and returns it with the text after the quote.
fn parse_label_value(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                other => return Err(format!("unknown escape {other:?} in a label value")),
            },
            c => value.push(c),
        }
    }
    Err("a label value has no closing quote".to_string())
}

/// Returns the longest run of ASCII digits in `text`.
fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Polls `admin`'s `GET /readyz` until `done` accepts the reply, and returns
/// that reply, or panics with the last one after [`BACKGROUND_BOUND`].
async fn poll_readyz(admin: &Admin, done: impl Fn(&Reply) -> bool) -> Reply {
    let limit = Instant::now() + BACKGROUND_BOUND;
    loop {
        let reply = admin.get("/readyz").await;
        if done(&reply) {
            return reply;
        }
        assert!(
            Instant::now() < limit,
            "GET /readyz did not reach the expected state within {BACKGROUND_BOUND:?}; the last reply: {} {}",
            reply.status,
            reply.text
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Checks that `GET /healthz` returns 200 on the badge listener and on the
/// admin listener.
async fn assert_both_healthy(gateway: &Gateway, admin: &Admin) {
    let badge_listener = gateway.get("/healthz").await;
    assert_eq!(
        badge_listener.status, 200,
        "GET /healthz on the badge listener: {}",
        badge_listener.text
    );
    let admin_listener = admin.get("/healthz").await;
    assert_eq!(
        admin_listener.status, 200,
        "GET /healthz on the admin listener: {}",
        admin_listener.text
    );
}

#[tokio::test]
async fn metrics_count_scripted_requests() {
    let contacts = contacts_file(ADA_CONTACTS);
    let admin_port = free_port();
    let config = format!(
        "[server]\nmax_body_bytes = 256\n\n[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, None),
        file_source("contacts", contacts.path())
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);
    let mut request_ids = Vec::new();

    // Ada is found twice, and the second time from the cache.
    for attempt in ["first", "second"] {
        let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
        request_ids.push(request.request_id.clone());
        let reply = gateway.send(&request).await;
        assert_eq!(reply.status, 200, "{attempt} request: {}", reply.text);
        assert_eq!(
            reply.data("contact_name"),
            "Ada Lovelace",
            "{attempt} request: {}",
            reply.text
        );
    }

    let not_found = BadgeRequest::signed(SECRET, &gateway.badge_url(), "12125550199");
    request_ids.push(not_found.request_id.clone());
    let reply = gateway.send(&not_found).await;
    assert_eq!(reply.error_code(), "not_found", "{}", reply.text);

    let unsigned_id = common::new_request_id();
    request_ids.push(unsigned_id.clone());
    let unsigned_body = json!({"request_id": unsigned_id, "contact_number": ADA_NUMBER});
    let reply = gateway
        .post(BADGE_PATH, unsigned_body.to_string(), &[])
        .await;
    assert_eq!(reply.status, 401, "unsigned request: {}", reply.text);

    let wrong_secret = BadgeRequest::signed("another-secret", &gateway.badge_url(), ADA_NUMBER);
    request_ids.push(wrong_secret.request_id.clone());
    let reply = gateway.send(&wrong_secret).await;
    assert_eq!(reply.status, 401, "wrongly signed request: {}", reply.text);

    let malformed = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    request_ids.push(malformed.request_id.clone());
    let truncated = format!(r#"{{"request_id": "{}", "contact_"#, malformed.request_id);
    let reply = gateway
        .post(BADGE_PATH, truncated, &malformed.headers())
        .await;
    assert_eq!(reply.status, 400, "malformed JSON: {}", reply.text);

    // A verified request with an empty number is rejected but still counts
    // by its scheme.
    let empty_number = BadgeRequest::signed(SECRET, &gateway.badge_url(), "");
    request_ids.push(empty_number.request_id.clone());
    let reply = gateway.send(&empty_number).await;
    assert_eq!(reply.status, 400, "empty contact_number: {}", reply.text);

    let oversized = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    request_ids.push(oversized.request_id.clone());
    let padded = json!({
        "request_id": oversized.request_id,
        "contact_number": ADA_NUMBER,
        "padding": "x".repeat(1000)
    });
    let reply = gateway
        .post(BADGE_PATH, padded.to_string(), &oversized.headers())
        .await;
    assert_eq!(reply.status, 413, "oversized body: {}", reply.text);

    let metrics = admin.metrics().await;
    let text = &metrics.text;
    let requests = "badgegate_requests_total";
    assert_eq!(
        metrics.value(requests, &[("outcome", "found")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(requests, &[("outcome", "not_found")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(requests, &[("outcome", "unauthorized")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(requests, &[("outcome", "bad_request")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(requests, &[("outcome", "payload_too_large")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metrics.named(requests).len(), 5, "{text}");

    // Four requests verified: two found, one not found, one empty number.
    let schemes = metrics.named("badgegate_signature_scheme_total");
    assert_eq!(schemes.len(), 1, "{text}");
    assert_eq!(
        metrics.value(
            "badgegate_signature_scheme_total",
            &[("scheme", "hmac_sha256")]
        ),
        Some(4.0),
        "{text}"
    );

    let cache = "badgegate_cache_lookups_total";
    assert_eq!(
        metrics.value(cache, &[("result", "hit")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(cache, &[("result", "miss")]),
        Some(2.0),
        "{text}"
    );
    // The found answer and the not-found answer.
    assert_eq!(
        metrics.value("badgegate_cache_entries", &[]),
        Some(2.0),
        "{text}"
    );

    // The file source was asked for the two numbers that missed the cache.
    assert_eq!(
        metrics.value(
            "badgegate_upstream_calls_total",
            &[("source", "contacts"), ("status", "2xx")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(
            "badgegate_source_duration_seconds_bucket",
            &[("source", "contacts"), ("le", "+Inf")]
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        metrics
            .named("badgegate_source_duration_seconds_bucket")
            .len()
            > 1,
        "{text}"
    );
    assert_eq!(
        metrics.value(
            "badgegate_source_duration_seconds_count",
            &[("source", "contacts")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value("badgegate_request_duration_seconds_count", &[]),
        Some(8.0),
        "{text}"
    );

    for sample in &metrics.samples {
        for (label, value) in &sample.labels {
            assert!(
                longest_digit_run(value) < 7,
                "{}: label {label}=\"{value}\" looks like a phone number",
                sample.name
            );
            for request_id in &request_ids {
                assert!(
                    !value.contains(request_id.as_str()),
                    "{}: label {label}=\"{value}\" contains the request id {request_id}",
                    sample.name
                );
            }
        }
    }
    for request_id in &request_ids {
        assert!(
            !text.contains(request_id.as_str()),
            "the metrics contain the request id {request_id}:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_count_upstream_retries() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "status": "error",
            "message": "internal error",
            "category": "INTERNAL_ERROR"
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&hubspot)
        .await;
    contact_search()
        .respond_with(ResponseTemplate::new(200).set_body_json(ada_search_response()))
        .expect(1)
        .mount(&hubspot)
        .await;
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, None),
        hubspot_source(&hubspot, "portal_id = 1\nmax_retries = 1")
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);

    let reply = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    hubspot.verify().await;

    let metrics = admin.metrics().await;
    let text = &metrics.text;
    let calls = "badgegate_upstream_calls_total";
    assert_eq!(
        metrics.value(calls, &[("source", "hubspot"), ("status", "5xx")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(calls, &[("source", "hubspot"), ("status", "2xx")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics.value("badgegate_upstream_retries_total", &[("source", "hubspot")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics.value(
            "badgegate_upstream_call_duration_seconds_count",
            &[("source", "hubspot")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metrics.value("badgegate_requests_total", &[("outcome", "found")]),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_waits_for_account_info() {
    let hubspot = MockServer::start().await;
    account_info()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "portalId": 1,
                    "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1"
                }))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&hubspot)
        .await;
    let admin_port = free_port();
    // The start-up request is bounded by `timeout_ms`, so it must exceed
    // the mock's 2 s delay.
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, None),
        hubspot_source(&hubspot, "timeout_ms = 5000")
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);

    let starting = admin.get("/readyz").await;
    assert_eq!(starting.status, 503, "{}", starting.text);
    assert_eq!(starting.body["ready"], false, "{}", starting.text);
    assert_eq!(
        starting.body["sources"]["hubspot"]["ready"], false,
        "{}",
        starting.text
    );
    assert_eq!(
        starting.body["sources"]["hubspot"]["reason"], "starting",
        "{}",
        starting.text
    );
    assert_both_healthy(&gateway, &admin).await;

    let limit = Instant::now() + BACKGROUND_BOUND;
    let ready = loop {
        let reply = admin.get("/readyz").await;
        if reply.status == 200 {
            break reply;
        }
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(
            reply.body["sources"]["hubspot"]["reason"], "starting",
            "{}",
            reply.text
        );
        assert_both_healthy(&gateway, &admin).await;
        assert!(
            Instant::now() < limit,
            "GET /readyz still returned 503 after {BACKGROUND_BOUND:?}: {}",
            reply.text
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    assert_eq!(ready.body["ready"], true, "{}", ready.text);
    assert_eq!(
        ready.body["sources"]["hubspot"]["ready"], true,
        "{}",
        ready.text
    );
    assert_both_healthy(&gateway, &admin).await;
    hubspot.verify().await;
}

#[tokio::test]
async fn readyz_names_failed_start_up() {
    let hubspot = MockServer::start().await;
    account_info()
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION"
        })))
        .expect(1)
        .mount(&hubspot)
        .await;
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, None),
        hubspot_source(&hubspot, "")
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);

    let failed = poll_readyz(&admin, |reply| {
        reply.body["sources"]["hubspot"]["reason"] != "starting"
    })
    .await;
    assert_eq!(failed.status, 503, "{}", failed.text);
    assert_eq!(failed.body["ready"], false, "{}", failed.text);
    assert_eq!(
        failed.body["sources"]["hubspot"]["ready"], false,
        "{}",
        failed.text
    );
    let reason = failed.body["sources"]["hubspot"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("401"), "{}", failed.text);
    assert!(reason.contains("authentication failed"), "{}", failed.text);
    assert_both_healthy(&gateway, &admin).await;

    // An authentication failure is not retried, so /readyz keeps returning 503.
    for _ in 0..10 {
        tokio::time::sleep(POLL_INTERVAL).await;
        let reply = admin.get("/readyz").await;
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(
            reply.body["sources"]["hubspot"]["reason"], reason,
            "{}",
            reply.text
        );
        assert_both_healthy(&gateway, &admin).await;
    }
    hubspot.verify().await;
}

#[tokio::test]
async fn purge_makes_next_request_call_hubspot() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(ResponseTemplate::new(200).set_body_json(ada_search_response()))
        .expect(3)
        .mount(&hubspot)
        .await;
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, Some(ADMIN_TOKEN)),
        hubspot_source(&hubspot, "portal_id = 1")
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let number_path = "/cache/+1%20415%20555%200123";

    let first = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(first.data("contact_name"), "Ada Lovelace", "{}", first.text);
    assert_eq!(
        first.data("contact_profile_link"),
        ADA_LINK,
        "{}",
        first.text
    );
    let cached = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(
        cached.data("contact_name"),
        "Ada Lovelace",
        "{}",
        cached.text
    );
    assert_eq!(search_calls(&hubspot).await, 1, "the cache did not answer");

    // Rejected purges leave the entry cached.
    let wrong_token = admin.delete(number_path, Some("Bearer wrong")).await;
    assert_eq!(wrong_token.status, 401, "{}", wrong_token.text);
    let no_token = admin.delete(number_path, None).await;
    assert_eq!(no_token.status, 401, "{}", no_token.text);
    let bare_token = admin.delete(number_path, Some(ADMIN_TOKEN)).await;
    assert_eq!(bare_token.status, 401, "{}", bare_token.text);
    let wrong_token_all = admin.delete("/cache", Some("Bearer wrong")).await;
    assert_eq!(wrong_token_all.status, 401, "{}", wrong_token_all.text);
    let no_token_all = admin.delete("/cache", None).await;
    assert_eq!(no_token_all.status, 401, "{}", no_token_all.text);
    let still_cached = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(
        still_cached.data("contact_name"),
        "Ada Lovelace",
        "{}",
        still_cached.text
    );
    assert_eq!(
        search_calls(&hubspot).await,
        1,
        "a rejected purge removed the entry"
    );

    let not_a_number = admin.delete("/cache/abc", Some(&bearer)).await;
    assert_eq!(not_a_number.status, 400, "{}", not_a_number.text);

    // The number written another way names the same entry.
    let purged = admin.delete(number_path, Some(&bearer)).await;
    assert_eq!(purged.status, 200, "{}", purged.text);
    assert_eq!(purged.body["removed"], true, "{}", purged.text);
    assert_eq!(purged.body["purged"], "+14155550123", "{}", purged.text);
    let purged_again = admin.delete(number_path, Some(&bearer)).await;
    assert_eq!(purged_again.status, 200, "{}", purged_again.text);
    assert_eq!(purged_again.body["removed"], false, "{}", purged_again.text);

    let after_purge = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(
        after_purge.data("contact_name"),
        "Ada Lovelace",
        "{}",
        after_purge.text
    );
    assert_eq!(
        search_calls(&hubspot).await,
        2,
        "the request after the purge did not call HubSpot"
    );

    let purged_all = admin.delete("/cache", Some(&bearer)).await;
    assert_eq!(purged_all.status, 200, "{}", purged_all.text);
    assert_eq!(purged_all.body["purged"], "all", "{}", purged_all.text);
    assert_eq!(purged_all.body["entries"], 1, "{}", purged_all.text);

    let after_purge_all = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(
        after_purge_all.data("contact_name"),
        "Ada Lovelace",
        "{}",
        after_purge_all.text
    );
    assert_eq!(
        search_calls(&hubspot).await,
        3,
        "the request after purging every entry did not call HubSpot"
    );
    hubspot.verify().await;
}

#[tokio::test]
async fn purge_without_token_is_forbidden() {
    let contacts = contacts_file(ADA_CONTACTS);
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        admin_table(admin_port, None),
        file_source("contacts", contacts.path())
    );
    let gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);
    let reply = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);

    for path in ["/cache/14155550123", "/cache"] {
        for authorization in [None, Some("Bearer "), Some("Bearer adm1n")] {
            let reply = admin.delete(path, authorization).await;
            assert_eq!(
                reply.status, 403,
                "DELETE {path} with {authorization:?}: {}",
                reply.text
            );
            assert!(
                reply.text.contains("admin.token"),
                "DELETE {path} with {authorization:?}: {}",
                reply.text
            );
        }
    }
    let metrics = admin.metrics().await;
    assert_eq!(
        metrics.value("badgegate_cache_entries", &[]),
        Some(1.0),
        "a forbidden purge removed the entry:\n{}",
        metrics.text
    );
}

/// Returns every line of the gateway's standard error once the last line is
/// complete, so that no line is read while it is being written.
async fn complete_log_lines(gateway: &Gateway) -> Vec<String> {
    let limit = Instant::now() + BACKGROUND_BOUND;
    loop {
        let logs = gateway.logs();
        if logs.ends_with('\n') || Instant::now() > limit {
            return logs.lines().map(str::to_string).collect();
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Returns whether `line` has a span whose field `field` is `value`.
fn has_span_field(line: &Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|span| span[field] == value))
}

#[tokio::test]
async fn json_logs_carry_request_spans() {
    let contacts = contacts_file(ADA_CONTACTS);
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n[log]\nformat = \"json\"\nlevel = \"debug\"\n\n{}{}",
        admin_table(admin_port, None),
        file_source("contacts", contacts.path())
    );
    let gateway = Gateway::start(&config).await;

    let found = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    let reply = gateway.send(&found).await;
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    let rejected = BadgeRequest::signed("another-secret", &gateway.badge_url(), ADA_NUMBER);
    let reply = gateway.send(&rejected).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    let rejection_logged = gateway
        .wait_for_log_line(|line| line.contains("signature_mismatch"))
        .await;
    assert!(
        rejection_logged.is_some(),
        "no line logs the rejection; the logs are:\n{}",
        gateway.logs()
    );

    let lines = complete_log_lines(&gateway).await;
    let mut parsed = Vec::new();
    for line in &lines {
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => parsed.push(value),
            _ => panic!(
                "a log line is not a JSON object: {line}\nthe logs are:\n{}",
                lines.join("\n")
            ),
        }
    }
    let all = lines.join("\n");

    let answered: Vec<&Value> = parsed
        .iter()
        .filter(|line| line["message"] == "answered")
        .collect();
    assert_eq!(answered.len(), 1, "{all}");
    let answered = answered[0];
    assert_eq!(answered["outcome"], "found", "{all}");
    assert_eq!(answered["level"], "INFO", "{all}");
    assert!(
        has_span_field(answered, "request_id", &found.request_id),
        "the answered line has no span with request_id {}: {answered}",
        found.request_id
    );

    let source_debug = parsed.iter().find(|line| {
        line["level"] == "DEBUG"
            && has_span_field(line, "source", "contacts")
            && has_span_field(line, "request_id", &found.request_id)
    });
    assert!(
        source_debug.is_some(),
        "no DEBUG line has a span with source \"contacts\" and the request id; the logs are:\n{all}"
    );

    let rejection = parsed
        .iter()
        .find(|line| line["reason"] == "signature_mismatch");
    let rejection = rejection.unwrap_or_else(|| panic!("no rejection line: {all}"));
    assert_eq!(rejection["level"], "WARN", "{all}");
}

/// Starts a gateway that logs JSON at info, with `contacts` as its source.
async fn json_info_gateway(contacts: &std::path::Path) -> Gateway {
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n[log]\nformat = \"json\"\nlevel = \"info\"\n\n{}",
        file_source("contacts", contacts)
    );
    Gateway::start(&config).await
}

/// Waits for the first log line that contains `needle`, and returns it with
/// its JSON.
async fn json_log_line(gateway: &Gateway, needle: &str) -> (String, Value) {
    let line = gateway
        .wait_for_log_line(|line| line.contains(needle))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no line contains {needle}; the logs are:\n{}",
                gateway.logs()
            )
        });
    let value = serde_json::from_str(&line).expect("log lines are JSON");
    (line, value)
}

#[tokio::test]
async fn info_answered_line_has_request_id() {
    let contacts = contacts_file(ADA_CONTACTS);
    let gateway = json_info_gateway(contacts.path()).await;

    let found = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    let reply = gateway.send(&found).await;
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    let (line, answered) = json_log_line(&gateway, "\"answered\"").await;
    assert_eq!(answered["request_id"], found.request_id.as_str(), "{line}");
    assert_eq!(answered["outcome"], "found", "{line}");
    assert!(
        !has_span_field(&answered, "request_id", &found.request_id),
        "the request span is a debug span, so at info it adds nothing: {line}"
    );
}

#[tokio::test]
async fn info_number_rejection_has_request_id() {
    let contacts = contacts_file(ADA_CONTACTS);
    let gateway = json_info_gateway(contacts.path()).await;

    // The signature covers request_id but not the body's number, so an empty
    // number is found after the request verified.
    let empty = BadgeRequest::signed(SECRET, &gateway.badge_url(), "");
    let reply = gateway.send(&empty).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let (line, rejection) = json_log_line(&gateway, "rejected a request").await;
    assert_eq!(rejection["field"], "contact_number", "{line}");
    assert_eq!(rejection["request_id"], empty.request_id.as_str(), "{line}");
}

#[tokio::test]
async fn sighup_reload_adds_source_and_rejects_invalid() {
    let first = contacts_file(ADA_CONTACTS);
    let later = contacts_file(SECOND_SOURCE_CONTACTS);
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n[lookup]\ndeadline_ms = 1500\n\n{}{}",
        admin_table(admin_port, None),
        file_source("first", first.path())
    );
    let mut gateway = Gateway::start(&config).await;
    let admin = Admin::new(admin_port);
    let pid = gateway.pid();
    let reply = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);

    // A lookup of Grace before the reload would cache "not found", and a
    // reload keeps cached answers, so the test waits for the new source to
    // be listed instead of polling for Grace.
    let original = std::fs::read_to_string(gateway.config_path()).expect("reading the config");
    let with_second = format!("{original}{}", file_source("second", later.path()));
    gateway.rewrite_config(&with_second);
    gateway.send_sighup();
    let both = poll_readyz(&admin, |reply| {
        reply.status == 200 && reply.body["sources"].get("second").is_some()
    })
    .await;
    assert_eq!(
        both.body["sources"]["first"]["ready"], true,
        "{}",
        both.text
    );
    assert_eq!(
        both.body["sources"]["second"]["ready"], true,
        "{}",
        both.text
    );

    let grace = gateway.request_badge(SECRET, "12125550147").await;
    assert_eq!(grace.status, 200, "{}", grace.text);
    assert_eq!(grace.data("contact_name"), "Grace Hopper", "{}", grace.text);
    assert_eq!(
        gateway.wait_for_exit(Duration::ZERO).await,
        None,
        "the gateway exited on SIGHUP"
    );
    assert_eq!(gateway.pid(), pid);
    let starts = gateway.logs().matches("configuration loaded").count();
    assert_eq!(starts, 1, "the gateway restarted:\n{}", gateway.logs());

    let misspelt = with_second.replace("deadline_ms = 1500", "deadline_msec = 1500");
    assert_ne!(misspelt, with_second, "the config has no deadline_ms line");
    gateway.rewrite_config(&misspelt);
    gateway.send_sighup();
    let rejected = gateway
        .wait_for_log_line(|line| line.contains(" ERROR ") && line.contains("deadline_msec"))
        .await;
    assert!(
        rejected.is_some(),
        "no ERROR line names the misspelt key; the logs are:\n{}",
        gateway.logs()
    );

    // Katherine is only in the second source and was never looked up, so
    // the cache has no entry for her.
    let katherine = gateway.request_badge(SECRET, "17575550142").await;
    assert_eq!(katherine.status, 200, "{}", katherine.text);
    assert_eq!(
        katherine.data("contact_name"),
        "Katherine Johnson",
        "{}",
        katherine.text
    );
    let ready = admin.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert!(
        ready.body["sources"].get("second").is_some(),
        "{}",
        ready.text
    );

    let limit = Instant::now() + BACKGROUND_BOUND;
    let metrics = loop {
        let metrics = admin.metrics().await;
        let counted = metrics
            .value("badgegate_config_reloads_total", &[("result", "invalid")])
            .is_some();
        if counted || Instant::now() > limit {
            break metrics;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    assert_eq!(
        metrics.value("badgegate_config_reloads_total", &[("result", "invalid")]),
        Some(1.0),
        "{}",
        metrics.text
    );
    assert_eq!(
        metrics.value("badgegate_config_reloads_total", &[("result", "applied")]),
        Some(1.0),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn reload_lets_in_flight_request_finish() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ada_search_response())
                .set_delay(Duration::from_secs(1)),
        )
        .expect(1)
        .mount(&hubspot)
        .await;
    let admin_port = free_port();
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n[lookup]\ndeadline_ms = 3000\n\n{}{}",
        admin_table(admin_port, None),
        hubspot_source(&hubspot, "portal_id = 1\ntimeout_ms = 3000")
    );
    let gateway = std::sync::Arc::new(Gateway::start(&config).await);

    let in_flight = {
        let gateway = std::sync::Arc::clone(&gateway);
        tokio::spawn(async move { gateway.request_badge(SECRET, ADA_NUMBER).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    gateway.send_sighup();
    let reply = in_flight.await.expect("the request task panicked");

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.data("contact_name"), "Ada Lovelace", "{}", reply.text);
    assert_eq!(
        reply.data("contact_profile_link"),
        ADA_LINK,
        "{}",
        reply.text
    );
    hubspot.verify().await;

    // The reload finished while the request waited for HubSpot, so its log
    // line comes before the request's `answered` line. The logging thread
    // may write that line after the reply arrives, so the test waits for it.
    let reloaded = gateway
        .wait_for_log_line(|line| line.contains("config reloaded"))
        .await;
    assert!(
        reloaded.is_some(),
        "no line says the config reloaded; the logs are:\n{}",
        gateway.logs()
    );
    let answered = gateway
        .wait_for_log_line(|line| line.contains(" answered "))
        .await;
    assert!(
        answered.is_some(),
        "no answered line; the logs are:\n{}",
        gateway.logs()
    );
    let logs = gateway.logs();
    let reloaded_at = logs.find("config reloaded").expect("checked above");
    let answered_at = logs
        .find(" answered ")
        .unwrap_or_else(|| panic!("no answered line; the logs are:\n{logs}"));
    assert!(
        reloaded_at < answered_at,
        "the reload did not happen while the request was in flight:\n{logs}"
    );
}

/// Contacts stored without a country code, so `lookup.default_region`
/// decides which number the row lists.
const NATIONAL_CONTACTS: &str = "name,phone,email,profile_link\n\
Dana Scully,(650) 555-0142,,https://crm.example.com/contacts/4\n";

/// Dana Scully's number as a US caller, in the form JustCall sends.
const DANA_NUMBER: &str = "16505550142";

/// Waits until the gateway has logged `count` applied reloads, and returns
/// whether it did within [`BACKGROUND_BOUND`]. The line comes after the new
/// config serves.
async fn wait_for_reloads(gateway: &Gateway, count: usize) -> bool {
    let limit = Instant::now() + BACKGROUND_BOUND;
    loop {
        if gateway.logs().matches("config reloaded").count() >= count {
            return true;
        }
        if Instant::now() > limit {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Returns the lines of the gateway's log that contain `text`.
fn log_lines_containing(gateway: &Gateway, text: &str) -> Vec<String> {
    gateway
        .logs()
        .lines()
        .filter(|line| line.contains(text))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn reload_with_new_region_drops_cache() {
    let contacts = contacts_file(NATIONAL_CONTACTS);
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n\n[lookup]\ndefault_region = \"US\"\n{}",
        file_source("contacts", contacts.path())
    );
    let gateway = Gateway::start(&config).await;
    let before = gateway.request_badge(SECRET, DANA_NUMBER).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(
        before.data("contact_name"),
        "Dana Scully",
        "{}",
        before.text
    );

    // Read in GB, the stored (650) 555-0142 is no longer +1 650 555 0142, so
    // a cached badge would name the wrong person.
    let original = std::fs::read_to_string(gateway.config_path()).expect("reading the config");
    let in_gb = original.replace("default_region = \"US\"", "default_region = \"GB\"");
    assert_ne!(in_gb, original, "the config has no default_region line");
    gateway.rewrite_config(&in_gb);
    gateway.send_sighup();
    assert!(
        wait_for_reloads(&gateway, 1).await,
        "no line says the config reloaded; the logs are:\n{}",
        gateway.logs()
    );
    let dropped_lines = log_lines_containing(&gateway, "dropped the cached answers");
    assert_eq!(dropped_lines.len(), 1, "{}", gateway.logs());
    assert!(
        dropped_lines[0].contains("lookup.default_region changed"),
        "the line does not name the change: {}",
        dropped_lines[0]
    );

    let after = gateway.request_badge(SECRET, DANA_NUMBER).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.error_code(), "not_found", "{}", after.text);
}

#[tokio::test]
async fn reload_rereads_edited_contacts_file() {
    let contacts = contacts_file(ADA_CONTACTS);
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n{}",
        file_source("contacts", contacts.path())
    );
    let gateway = Gateway::start(&config).await;
    let first = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(first.data("contact_name"), "Ada Lovelace", "{}", first.text);

    // Neither the config nor the file changed, so the cache is kept.
    gateway.send_sighup();
    assert!(
        wait_for_reloads(&gateway, 1).await,
        "no line says the config reloaded; the logs are:\n{}",
        gateway.logs()
    );
    let kept_lines = log_lines_containing(&gateway, "kept the cached answers");
    assert_eq!(kept_lines.len(), 1, "{}", gateway.logs());
    assert!(kept_lines[0].contains("answers=1"), "{}", kept_lines[0]);
    assert!(
        log_lines_containing(&gateway, "dropped the cached answers").is_empty(),
        "{}",
        gateway.logs()
    );

    let renamed = ADA_CONTACTS.replace("Ada Lovelace", "Ada King");
    std::fs::write(contacts.path(), renamed).expect("rewriting the contacts file failed");
    gateway.send_sighup();
    assert!(
        wait_for_reloads(&gateway, 2).await,
        "no second line says the config reloaded; the logs are:\n{}",
        gateway.logs()
    );
    let dropped_lines = log_lines_containing(&gateway, "dropped the cached answers");
    assert_eq!(dropped_lines.len(), 1, "{}", gateway.logs());
    assert!(
        dropped_lines[0].contains("source `contacts`"),
        "the line does not name the source: {}",
        dropped_lines[0]
    );

    let after = gateway.request_badge(SECRET, ADA_NUMBER).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.data("contact_name"), "Ada King", "{}", after.text);
}

/// Runs `badgegate lookup` with `arguments` and returns its exit status,
/// standard output and standard error.
async fn run_lookup(arguments: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut command = badgegate_command();
    command.arg("lookup").args(arguments);
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .expect("running `badgegate lookup` failed");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn lookup_trace_lists_sources_and_candidates() {
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(search_response(vec![
                // The same last seven digits in another area code.
                hubspot_contact("601", "Adam", "Lovelace", "+1 (416) 555-0123"),
                hubspot_contact("501", "Ada", "Lovelace", "+1 (415) 555-0123"),
            ])),
        )
        .expect(2)
        .mount(&hubspot)
        .await;
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let contacts_path = dir.path().join("contacts.csv");
    // The file has only another number with the same last digits.
    std::fs::write(
        &contacts_path,
        "name,phone,email,profile_link\n\
         Grace Hopper,+1 (212) 555-0123,,https://crm.example.com/contacts/2\n",
    )
    .expect("writing the contacts file failed");
    let config_path = dir.path().join("gateway.toml");
    let config = format!(
        "[justcall]\nsecrets = [\"{SECRET}\"]\n{}{}",
        file_source("contacts", &contacts_path),
        hubspot_source(&hubspot, "portal_id = 1")
    );
    std::fs::write(&config_path, config).expect("writing the config failed");
    let config_arg = config_path.to_string_lossy().into_owned();

    let (status, stdout, stderr) =
        run_lookup(&[ADA_NUMBER, "--json", "--config", &config_arg]).await;
    assert!(status.success(), "exit {status}\n{stdout}\n{stderr}");
    let trace: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("the trace is not JSON ({error}):\n{stdout}"));
    assert_eq!(trace["outcome"], "found", "{stdout}");
    assert_eq!(trace["badge"]["contact_name"], "Ada Lovelace", "{stdout}");
    assert_eq!(trace["number"]["e164"], "+14155550123", "{stdout}");

    let sources = trace["sources"].as_array().expect("`sources` is an array");
    let names: Vec<&str> = sources
        .iter()
        .map(|source| source["source"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["contacts", "hubspot"], "{stdout}");
    assert_eq!(sources[0]["result"], "no_match", "{stdout}");
    assert_eq!(sources[1]["result"], "matched", "{stdout}");
    assert_eq!(sources[1]["chosen"], "501", "{stdout}");

    let candidates = sources[1]["candidates"]
        .as_array()
        .expect("`candidates` is an array");
    let discarded: Vec<&Value> = candidates
        .iter()
        .filter(|candidate| candidate["kept"] == false)
        .collect();
    assert_eq!(discarded.len(), 1, "{stdout}");
    assert_eq!(discarded[0]["id"], "601", "{stdout}");
    let reason = discarded[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("another number"), "{stdout}");
    let kept: Vec<&Value> = candidates
        .iter()
        .filter(|candidate| candidate["kept"] == true)
        .collect();
    assert_eq!(kept.len(), 1, "{stdout}");
    assert_eq!(kept[0]["id"], "501", "{stdout}");

    let requests = sources[1]["requests"]
        .as_array()
        .expect("the HubSpot source lists its requests");
    let search = format!("POST {}{SEARCH_PATH}", hubspot.uri());
    assert!(
        requests.iter().any(|request| request
            .as_str()
            .is_some_and(|text| text.starts_with(&search))),
        "no request starts with `{search}`: {stdout}"
    );
    assert!(!stdout.contains(HUBSPOT_TOKEN), "{stdout}");
    assert!(!stderr.contains(HUBSPOT_TOKEN), "{stderr}");

    let (status, text, stderr) = run_lookup(&[ADA_NUMBER, "--config", &config_arg]).await;
    assert!(status.success(), "exit {status}\n{text}\n{stderr}");
    assert!(text.contains("source    contacts (file)"), "{text}");
    assert!(text.contains("source    hubspot (hubspot)"), "{text}");
    assert!(text.contains("discarded"), "{text}");
    assert!(text.contains("601"), "{text}");
    assert!(!text.contains(HUBSPOT_TOKEN), "{text}");
    assert!(!stderr.contains(HUBSPOT_TOKEN), "{stderr}");
    hubspot.verify().await;
}

#[tokio::test]
async fn busy_admin_port_stops_before_sources_start() {
    let busy_listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 failed");
    let admin_port = busy_listener
        .local_addr()
        .expect("a bound listener has an address")
        .port();
    // HubSpot's account-info call, made at start-up without `portal_id`,
    // would still be in flight when the process stops.
    let hubspot = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_INFO_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "portalId": 1 }))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&hubspot)
        .await;
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let config = dir.path().join("gateway.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{}\"\n\n[justcall]\nsecrets = [\"{SECRET}\"]\n\n{}{}",
        free_port(),
        admin_table(admin_port, None),
        hubspot_source(&hubspot, "")
    );
    std::fs::write(&config, text).expect("writing gateway.toml failed");

    let mut command = badgegate_command();
    command.arg("serve").arg("--config").arg(&config);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the blocking task panicked")
        .expect("running badgegate failed");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on 127.0.0.1:{admin_port} (admin.listen)"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("serving JustCall contact badges"),
        "{stderr}"
    );
    assert!(!stderr.contains("start-up failed"), "{stderr}");
    let calls = hubspot.received_requests().await.unwrap_or_default();
    assert!(calls.is_empty(), "HubSpot was called: {calls:?}");
    drop(busy_listener);
}

/// The start-up check finds a process's own listener and no other
/// process's.
#[test]
fn listener_check_finds_only_own_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert!(common::listens_on(std::process::id(), port));

    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let listened = common::listens_on(other.id(), port);
    let _ = other.kill();
    let _ = other.wait();
    assert!(!listened);

    drop(listener);
    assert!(!common::listens_on(std::process::id(), port));
}
