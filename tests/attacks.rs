//! Hostile requests to the real binary: missing, forged, stale and repeated
//! signatures, malformed and oversized bodies, conflicting framing, odd
//! paths, and replays. Each row of the attack table is written byte for byte
//! over TCP. For every row the gateway must respond with the expected
//! status and body, never with 5xx, and keep serving. No request without a
//! valid signature may reach an upstream.
//!
//! The gateway queries a contacts file first and a HubSpot mock second. The
//! rows request a number that only HubSpot has, so a request that got past
//! verification would show up as a call to the mock. The rows that are
//! expected to succeed request a number the contacts file has.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::raw_http::{self, RawResponse};
use common::{contacts_file, toml_string, BadgeRequest, Gateway, BADGE_PATH};
use serde_json::{json, Value};
use tempfile::NamedTempFile;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "attacks-test-secret";
const HUBSPOT_TOKEN: &str = "pat-na1-attacks-token";
const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";

/// Ada Lovelace's number, which the contacts file has.
const ADA_NUMBER: &str = "14155550123";
const ADA_NAME: &str = "Ada Lovelace";

/// A number only HubSpot has: the one the attacks request. No request for
/// it may reach HubSpot.
const HUBSPOT_ONLY_NUMBER: &str = "14155550177";

/// A second number only HubSpot has, requested once with a valid signature
/// after the table, to show that a verified request does reach HubSpot.
const CONTROL_NUMBER: &str = "14155550166";
const CONTROL_NAME: &str = "Margaret Hamilton";

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

/// The gateway's default `server.max_body_bytes`, which the config keeps.
const MAX_BODY_BYTES: usize = 16384;

/// Maximum time for one exchange. Generous, because debug builds run side by
/// side on a busy machine. Every row gets its response well within it.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(15);

/// What the gateway must send back for one row.
#[derive(Debug)]
enum Expected {
    /// The gateway's JSON error: `{"success": false, "error": {"code", "message"}}`
    /// with `status`, and `message` somewhere in `error.message`.
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
    /// A 200 with the badge of the contact named here.
    Badge(&'static str),
    /// A rejection by the HTTP layer before any handler runs: `status` with
    /// an empty body.
    Framing(u16),
}

fn unauthorized(message: &'static str) -> Expected {
    Expected::Error {
        status: 401,
        code: "unauthorized",
        message,
    }
}

fn bad_request(message: &'static str) -> Expected {
    Expected::Error {
        status: 400,
        code: "bad_request",
        message,
    }
}

fn unknown_path() -> Expected {
    Expected::Error {
        status: 404,
        code: "unknown_path",
        message: "no endpoint at this path",
    }
}

/// One hostile request and the response it must get.
struct Attack {
    name: &'static str,
    request: Vec<u8>,
    expected: Expected,
}

/// Builds the rows' requests for one gateway.
struct Requests {
    port: u16,
    url: String,
}

impl Requests {
    fn new(gateway: &Gateway) -> Requests {
        Requests {
            port: gateway.port,
            url: gateway.badge_url(),
        }
    }

    /// Signs a request for `number` now, with a fresh request id.
    fn signed(&self, number: &str) -> BadgeRequest {
        BadgeRequest::signed(SECRET, &self.url, number)
    }

    /// Builds a POST of `body` with `headers` to the badge endpoint.
    fn post(&self, headers: &[(&str, String)], body: impl AsRef<[u8]>) -> Vec<u8> {
        self.post_to(BADGE_PATH, headers, body)
    }

    /// Builds a POST of `body` with `headers` to `path`.
    fn post_to(&self, path: &str, headers: &[(&str, String)], body: impl AsRef<[u8]>) -> Vec<u8> {
        raw_http::request("POST", path, self.port, headers, body.as_ref())
    }

    /// Builds the POST of `request` as JustCall sends it.
    fn post_request(&self, request: &BadgeRequest) -> Vec<u8> {
        self.post(&request.headers(), request.body())
    }

    /// Builds a bodyless request with `method` to `path`.
    fn bodyless(&self, method: &str, path: &str) -> Vec<u8> {
        raw_http::head(
            method,
            path,
            "HTTP/1.1",
            self.port,
            &[("connection", "close".to_string())],
        )
        .into_bytes()
    }

    /// Builds the start of a POST to the badge endpoint with `version` and
    /// `headers` and no framing headers, for rows that frame the body
    /// themselves.
    fn head(&self, version: &str, headers: &[(&str, String)]) -> Vec<u8> {
        raw_http::head("POST", BADGE_PATH, version, self.port, headers).into_bytes()
    }
}

/// Returns `headers` without the header `name`.
fn without(headers: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    headers
        .into_iter()
        .filter(|(key, _)| *key != name)
        .collect()
}

/// Returns `headers` with `value` added as a second `name` header.
fn with_repeated(
    mut headers: Vec<(&'static str, String)>,
    name: &'static str,
    value: String,
) -> Vec<(&'static str, String)> {
    headers.push((name, value));
    headers
}

/// Builds a badge body with these two fields.
fn body(request_id: &str, contact_number: &str) -> String {
    json!({"request_id": request_id, "contact_number": contact_number}).to_string()
}

/// Builds every row. Requests are signed here, so the table must be sent
/// within the gateway's timestamp tolerance (300 s) of being built.
fn attack_table(requests: &Requests) -> Vec<Attack> {
    let target_number = HUBSPOT_ONLY_NUMBER;
    let mut table = Vec::new();
    let mut row = |name: &'static str, request: Vec<u8>, expected: Expected| {
        table.push(Attack {
            name,
            request,
            expected,
        });
    };

    // The signature header.
    let signed = requests.signed(target_number);
    row(
        "signature missing",
        requests.post(
            &without(signed.headers(), "x-justcall-signature"),
            signed.body(),
        ),
        unauthorized("x-justcall-signature header is missing"),
    );
    let mut empty = requests.signed(target_number);
    empty.signature = String::new();
    row(
        "signature empty",
        requests.post_request(&empty),
        unauthorized("not 64 hexadecimal digits"),
    );
    let mut short = requests.signed(target_number);
    short.signature.truncate(32);
    row(
        "signature short",
        requests.post_request(&short),
        unauthorized("not 64 hexadecimal digits"),
    );
    let mut long = requests.signed(target_number);
    long.signature.push_str("00");
    row(
        "signature too long",
        requests.post_request(&long),
        unauthorized("not 64 hexadecimal digits"),
    );
    let mut not_hex = requests.signed(target_number);
    not_hex.signature = "zz".repeat(32);
    row(
        "signature not hexadecimal",
        requests.post_request(&not_hex),
        unauthorized("not 64 hexadecimal digits"),
    );
    let other_url = format!("http://127.0.0.1:{}/other/path", requests.port);
    row(
        "signature for another URL",
        requests.post_request(&BadgeRequest::signed(SECRET, &other_url, target_number)),
        unauthorized("does not match"),
    );
    let signed = requests.signed(target_number);
    let other_id = requests.signed(target_number).request_id;
    row(
        "signature for another request id",
        requests.post(&signed.headers(), body(&other_id, target_number)),
        unauthorized("does not match"),
    );
    row(
        "signature with another secret",
        requests.post_request(&BadgeRequest::signed(
            "another-secret",
            &requests.url,
            target_number,
        )),
        unauthorized("does not match"),
    );
    let signed = requests.signed(target_number);
    let twice = with_repeated(
        signed.headers(),
        "x-justcall-signature",
        signed.signature.clone(),
    );
    row(
        "signature header sent twice",
        requests.post(&twice, signed.body()),
        unauthorized("x-justcall-signature header is sent more than once"),
    );
    let signed = requests.signed(target_number);
    let valid_then_zeros = with_repeated(signed.headers(), "x-justcall-signature", "0".repeat(64));
    row(
        "signature header twice, one forged",
        requests.post(&valid_then_zeros, signed.body()),
        unauthorized("sent more than once"),
    );

    // The timestamp header.
    let signed = requests.signed(target_number);
    row(
        "timestamp missing",
        requests.post(
            &without(signed.headers(), "x-justcall-request-timestamp"),
            signed.body(),
        ),
        unauthorized("x-justcall-request-timestamp header is missing"),
    );
    let mut empty = requests.signed(target_number);
    empty.timestamp = String::new();
    row(
        "timestamp empty",
        requests.post_request(&empty),
        unauthorized("is not `YYYY-MM-DD HH:MM:SS`"),
    );
    let mut word = requests.signed(target_number);
    word.timestamp = "yesterday".to_string();
    row(
        "timestamp a word",
        requests.post_request(&word),
        unauthorized("is not `YYYY-MM-DD HH:MM:SS`"),
    );
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    row(
        "timestamp an hour old",
        requests.post_request(&BadgeRequest::signed_at(
            SECRET,
            &requests.url,
            target_number,
            an_hour_ago,
        )),
        unauthorized("away from the gateway's clock"),
    );
    let in_an_hour = Utc::now() + chrono::Duration::hours(1);
    row(
        "timestamp an hour ahead",
        requests.post_request(&BadgeRequest::signed_at(
            SECRET,
            &requests.url,
            target_number,
            in_an_hour,
        )),
        unauthorized("away from the gateway's clock"),
    );
    let signed_at = Utc::now();
    let mut moved = BadgeRequest::signed_at(SECRET, &requests.url, target_number, signed_at);
    moved.timestamp = common::justcall_timestamp(signed_at + chrono::Duration::seconds(1));
    row(
        "timestamp changed after signing",
        requests.post_request(&moved),
        unauthorized("does not match"),
    );
    let signed = requests.signed(target_number);
    let twice = with_repeated(
        signed.headers(),
        "x-justcall-request-timestamp",
        signed.timestamp.clone(),
    );
    row(
        "timestamp header sent twice",
        requests.post(&twice, signed.body()),
        unauthorized("x-justcall-request-timestamp header is sent more than once"),
    );

    // The version header.
    let mut v2 = requests.signed(target_number);
    v2.version = "v2".to_string();
    row(
        "signature version unknown",
        requests.post_request(&v2),
        unauthorized("version `v2` is not supported"),
    );
    let signed = requests.signed(target_number);
    let twice = with_repeated(
        signed.headers(),
        "x-justcall-signature-version",
        "v1".to_string(),
    );
    row(
        "signature version sent twice",
        requests.post(&twice, signed.body()),
        unauthorized("x-justcall-signature-version header is sent more than once"),
    );

    // The body.
    let signed = requests.signed(target_number);
    let mut not_utf8 = format!(
        r#"{{"request_id": "{}", "contact_number": "1415555"#,
        signed.request_id
    )
    .into_bytes();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    not_utf8.extend_from_slice(b"\"}");
    row(
        "body not UTF-8, signed",
        requests.post(&signed.headers(), &not_utf8),
        bad_request("not valid JSON"),
    );
    row(
        "body not UTF-8, unsigned",
        requests.post(&[], &not_utf8),
        unauthorized("x-justcall-signature header is missing"),
    );
    let signed = requests.signed(target_number);
    let array =
        json!([{"request_id": signed.request_id, "contact_number": target_number}]).to_string();
    row(
        "body a JSON array",
        requests.post(&signed.headers(), array),
        bad_request("must be a JSON object"),
    );
    let signed = requests.signed(target_number);
    row(
        "body empty",
        requests.post(&signed.headers(), ""),
        bad_request("not valid JSON"),
    );
    let signed = requests.signed(target_number);
    row(
        "body nested 5000 levels deep",
        requests.post(
            &signed.headers(),
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
        ),
        bad_request("must be a JSON object"),
    );
    // A field's value that is not a scalar is skipped without recursion, so
    // deep nesting costs no stack and the error names the field.
    let signed = requests.signed(target_number);
    row(
        "request_id nested 5000 levels deep",
        requests.post(
            &signed.headers(),
            format!(
                r#"{{"request_id": {}{}, "contact_number": "{target_number}"}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            ),
        ),
        bad_request("`request_id` must be a string"),
    );
    let signed = requests.signed(target_number);
    let id = &signed.request_id;
    row(
        "request_id twice",
        requests.post(
            &signed.headers(),
            format!(
                r#"{{"request_id": "{id}", "request_id": "{id}", "contact_number": "{target_number}"}}"#
            ),
        ),
        bad_request("`request_id` appears more than once"),
    );
    let signed = requests.signed(ADA_NUMBER);
    let id = &signed.request_id;
    row(
        "contact_number twice",
        requests.post(
            &signed.headers(),
            format!(
                r#"{{"request_id": "{id}", "contact_number": "{ADA_NUMBER}", "contact_number": "{target_number}"}}"#
            ),
        ),
        bad_request("`contact_number` appears more than once"),
    );
    let signed = requests.signed(ADA_NUMBER);
    let id = &signed.request_id;
    row(
        "contact_number twice, once escaped",
        requests.post(
            &signed.headers(),
            format!(
                r#"{{"request_id": "{id}", "contact_number": "{ADA_NUMBER}", "contact\u005fnumber": "{target_number}"}}"#
            ),
        ),
        bad_request("`contact_number` appears more than once"),
    );
    let signed = requests.signed(target_number);
    row(
        "request_id missing",
        requests.post(
            &signed.headers(),
            json!({"contact_number": target_number}).to_string(),
        ),
        bad_request("`request_id` is missing"),
    );
    let signed = requests.signed(target_number);
    row(
        "request_id empty",
        requests.post(&signed.headers(), body("", target_number)),
        bad_request("`request_id` is empty"),
    );
    let signed = requests.signed(target_number);
    row(
        "request_id a number",
        requests.post(
            &signed.headers(),
            json!({"request_id": 42, "contact_number": target_number}).to_string(),
        ),
        bad_request("`request_id` must be a string"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number missing",
        requests.post(
            &signed.headers(),
            json!({"request_id": signed.request_id}).to_string(),
        ),
        bad_request("`contact_number` is missing"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number empty",
        requests.post(&signed.headers(), body(&signed.request_id, "")),
        bad_request("`contact_number` is empty"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number blank",
        requests.post(&signed.headers(), body(&signed.request_id, " \t ")),
        bad_request("`contact_number` is empty"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number null",
        requests.post(
            &signed.headers(),
            json!({"request_id": signed.request_id, "contact_number": null}).to_string(),
        ),
        bad_request("`contact_number` is missing"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number an object",
        requests.post(
            &signed.headers(),
            json!({"request_id": signed.request_id, "contact_number": {"number": target_number}})
                .to_string(),
        ),
        bad_request("must be a string of digits"),
    );
    let signed = requests.signed(target_number);
    row(
        "contact_number a negative number",
        requests.post(
            &signed.headers(),
            json!({"request_id": signed.request_id, "contact_number": -14155550177_i64})
                .to_string(),
        ),
        bad_request("must be a string of digits"),
    );
    let signed = requests.signed(ADA_NUMBER);
    row(
        "contact_number a JSON number",
        requests.post(
            &signed.headers(),
            json!({"request_id": signed.request_id, "contact_number": 14155550123_u64}).to_string(),
        ),
        Expected::Badge(ADA_NAME),
    );
    row(
        "contact_number only a plus",
        requests.post_request(&requests.signed("+")),
        bad_request("contains no digits"),
    );
    row(
        "contact_number letters",
        requests.post_request(&requests.signed("abc")),
        bad_request("contains no digits"),
    );
    row(
        "contact_number in Arabic-Indic digits",
        requests.post_request(&requests.signed("١٤١٥٥٥٥٠١٢٣")),
        Expected::Badge(ADA_NAME),
    );
    let long_id = "r".repeat(12 * 1024);
    let timestamp = common::justcall_timestamp(Utc::now());
    let long = BadgeRequest {
        signature: badgegate::signature::sign(SECRET, &requests.url, &long_id, &timestamp),
        request_id: long_id,
        contact_number: target_number.to_string(),
        timestamp,
        version: "v1".to_string(),
    };
    row(
        "request_id of 12 KB, signed",
        requests.post_request(&long),
        bad_request("`request_id` is longer than 128 characters"),
    );
    row(
        "contact_number of 12 KB",
        requests.post_request(&requests.signed(&"7".repeat(12 * 1024))),
        bad_request("`contact_number` is not a phone number"),
    );

    // Framing.
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("content-length", signed.body().len().to_string()),
        ("transfer-encoding", "chunked".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut both = requests.head("HTTP/1.1", &headers);
    both.extend_from_slice(
        format!(
            "{:x}\r\n{}\r\n0\r\n\r\n",
            signed.body().len(),
            signed.body()
        )
        .as_bytes(),
    );
    row(
        "content-length and chunked together",
        both,
        Expected::Framing(400),
    );
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("content-length", signed.body().len().to_string()),
        ("content-length", "2".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut two_lengths = requests.head("HTTP/1.1", &headers);
    two_lengths.extend_from_slice(signed.body().as_bytes());
    row("content-length twice", two_lengths, Expected::Framing(400));
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("content-length", "12abc".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut bad_length = requests.head("HTTP/1.1", &headers);
    bad_length.extend_from_slice(signed.body().as_bytes());
    row(
        "content-length not a number",
        bad_length,
        Expected::Framing(400),
    );
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("host", format!("127.0.0.1:{}", requests.port)),
        ("host", "badges.example.com".to_string()),
        ("content-length", signed.body().len().to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut two_hosts = requests.head("HTTP/1.1", &headers);
    two_hosts.extend_from_slice(signed.body().as_bytes());
    row("host twice", two_hosts, Expected::Framing(400));
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("transfer-encoding", "chunked".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut chunked_over_limit = requests.head("HTTP/1.1", &headers);
    let chunk = "x".repeat(4000);
    for _ in 0..5 {
        chunked_over_limit
            .extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    chunked_over_limit.extend_from_slice(b"0\r\n\r\n");
    assert!(5 * chunk.len() > MAX_BODY_BYTES);
    row(
        "chunked body over the limit",
        chunked_over_limit,
        Expected::Error {
            status: 413,
            code: "payload_too_large",
            message: "larger than 16384 bytes",
        },
    );
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("content-length", (MAX_BODY_BYTES * 100).to_string()),
        ("connection", "close".to_string()),
    ]);
    row(
        "content-length over the limit, body not sent",
        requests.head("HTTP/1.1", &headers),
        Expected::Error {
            status: 413,
            code: "payload_too_large",
            message: "larger than 16384 bytes",
        },
    );
    let signed = requests.signed(ADA_NUMBER);
    let mut headers = signed.headers();
    headers.extend([
        ("content-type", "application/json".to_string()),
        ("content-length", signed.body().len().to_string()),
    ]);
    let mut http_1_0 = requests.head("HTTP/1.0", &headers);
    http_1_0.extend_from_slice(signed.body().as_bytes());
    row("HTTP/1.0, signed", http_1_0, Expected::Badge(ADA_NAME));
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.push(("transfer-encoding", "chunked".to_string()));
    let mut chunked_1_0 = requests.head("HTTP/1.0", &headers);
    chunked_1_0.extend_from_slice(
        format!(
            "{:x}\r\n{}\r\n0\r\n\r\n",
            signed.body().len(),
            signed.body()
        )
        .as_bytes(),
    );
    row(
        "HTTP/1.0 with chunked body",
        chunked_1_0,
        Expected::Framing(400),
    );
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("transfer-encoding", "chunked".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut overflowing_chunk = requests.head("HTTP/1.1", &headers);
    overflowing_chunk.extend_from_slice(b"fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n");
    row(
        "chunk size overflowing 64 bits",
        overflowing_chunk,
        bad_request("the body could not be read"),
    );
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("transfer-encoding", "chunked".to_string()),
        ("connection", "close".to_string()),
    ]);
    let mut negative_chunk = requests.head("HTTP/1.1", &headers);
    negative_chunk.extend_from_slice(b"-2\r\n{}\r\n0\r\n\r\n");
    row(
        "chunk size negative",
        negative_chunk,
        bad_request("the body could not be read"),
    );
    // actix-http reads request heads of up to 128 KiB and at most 96
    // headers. These rows request Ada's number, so a head that is accepted
    // gets the badge from the contacts file.
    let signed = requests.signed(ADA_NUMBER);
    let mut headers = signed.headers();
    headers.push(("x-padding", "p".repeat(64 * 1024)));
    row(
        "header of 64 KB",
        requests.post(&headers, signed.body()),
        Expected::Badge(ADA_NAME),
    );
    let signed = requests.signed(ADA_NUMBER);
    let mut headers = signed.headers();
    headers.push(("x-padding", "p".repeat(200 * 1024)));
    row(
        "header of 200 KB",
        requests.post(&headers, signed.body()),
        Expected::Framing(431),
    );
    let signed = requests.signed(ADA_NUMBER);
    let mut headers = signed.headers();
    headers.extend((0..100).map(|i| ("x-many", i.to_string())));
    row(
        "100 headers",
        requests.post(&headers, signed.body()),
        Expected::Framing(431),
    );

    // Paths. Each request is signed for the real URL, so a path that reached
    // the endpoint after normalisation would be served.
    for (name, path) in [
        ("path with ..", "/justcall/../justcall/contact-badge"),
        ("path with encoded slash", "/justcall%2Fcontact-badge"),
        ("path with .", "/justcall/./contact-badge"),
        ("path with double slash", "//justcall/contact-badge"),
        ("path with trailing slash", "/justcall/contact-badge/"),
        ("path in capitals", "/JUSTCALL/CONTACT-BADGE"),
    ] {
        let signed = requests.signed(target_number);
        row(
            name,
            requests.post_to(path, &signed.headers(), signed.body()),
            unknown_path(),
        );
    }
    // actix decodes `%2D` to `-` when routing, so this reaches the endpoint,
    // but the URL checked against the signature keeps `%2D`.
    let signed = requests.signed(target_number);
    row(
        "path with encoded hyphen",
        requests.post_to(
            "/justcall/contact%2Dbadge",
            &signed.headers(),
            signed.body(),
        ),
        unauthorized("does not match"),
    );
    row(
        "GET on the endpoint",
        requests.bodyless("GET", BADGE_PATH),
        Expected::Error {
            status: 405,
            code: "method_not_allowed",
            message: "accepts POST only",
        },
    );

    // Admin paths, which only the admin listener serves.
    for (name, method, path) in [
        ("admin /metrics", "GET", "/metrics"),
        ("admin /readyz", "GET", "/readyz"),
        ("admin DELETE /cache", "DELETE", "/cache"),
        ("admin DELETE /cache/NUMBER", "DELETE", "/cache/14155550123"),
    ] {
        row(name, requests.bodyless(method, path), unknown_path());
    }

    // The signed URL. Without trust in forwarded headers, the URL is rebuilt
    // from `Host` and the path, so a signature for another host fails.
    let signed = requests.signed(target_number);
    let mut headers = signed.headers();
    headers.push(("host", "badges.example.com".to_string()));
    row(
        "host changed after signing",
        requests.post(&headers, signed.body()),
        unauthorized("does not match"),
    );
    let forwarded_url = format!("https://badges.example.com{BADGE_PATH}");
    let signed = BadgeRequest::signed(SECRET, &forwarded_url, target_number);
    let mut headers = signed.headers();
    headers.extend([
        ("x-forwarded-proto", "https".to_string()),
        ("x-forwarded-host", "badges.example.com".to_string()),
    ]);
    row(
        "forwarded URL without trust",
        requests.post(&headers, signed.body()),
        unauthorized("does not match"),
    );

    table
}

/// Builds a HubSpot contact search response with one contact.
fn search_result(id: &str, first_name: &str, last_name: &str, phone: &str) -> Value {
    json!({
        "total": 1,
        "results": [{
            "id": id,
            "properties": {
                "firstname": first_name,
                "lastname": last_name,
                "email": null,
                "phone": phone,
                "mobilephone": null
            },
            "updatedAt": "2026-01-01T00:00:00Z",
            "url": format!("https://app.hubspot.com/contacts/1/record/0-1/{id}")
        }]
    })
}

/// Starts a HubSpot mock that has the HubSpot-only number, which it must
/// never be asked for, and the control number, which it must be asked for
/// once when `control_calls` is 1.
async fn start_hubspot(control_calls: u64) -> MockServer {
    let hubspot = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(body_string_contains(&HUBSPOT_ONLY_NUMBER[1..]))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_result(
            "666",
            "Eve",
            "Target",
            "+1 415 555 0177",
        )))
        .expect(0)
        .named("search for the number the attacks ask for")
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(body_string_contains(&CONTROL_NUMBER[1..]))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_result(
            "701",
            "Margaret",
            "Hamilton",
            "+1 415 555 0166",
        )))
        .expect(control_calls)
        .named("search for the control number")
        .mount(&hubspot)
        .await;
    hubspot
}

/// Builds a config that queries the contacts file first and HubSpot second.
fn config(contacts: &NamedTempFile, hubspot: &MockServer) -> String {
    format!(
        r#"
[justcall]
secrets = ["{SECRET}"]

[[sources]]
name = "contacts"
type = "file"
path = {contacts}

[[sources]]
name = "hubspot"
type = "hubspot"
access_token = "{HUBSPOT_TOKEN}"
base_url = {base_url}
portal_id = 1
"#,
        contacts = toml_string(&contacts.path().to_string_lossy()),
        base_url = toml_string(&hubspot.uri())
    )
}

/// Returns how many requests HubSpot has received.
async fn upstream_calls(hubspot: &MockServer) -> usize {
    hubspot
        .received_requests()
        .await
        .expect("the HubSpot mock records requests")
        .len()
}

/// Checks `response` against what `attack` expected.
fn assert_expected(attack: &Attack, response: &RawResponse) {
    let name = attack.name;
    let text = response.text();
    assert!(
        response.status < 500,
        "{name}: the gateway answered {}: {}",
        response.status,
        response.head
    );
    match attack.expected {
        Expected::Error {
            status,
            code,
            message,
        } => {
            assert_eq!(response.status, status, "{name}: {text}");
            assert_eq!(response.json["success"], false, "{name}: {text}");
            assert_eq!(response.error_code(), code, "{name}: {text}");
            assert!(
                response.error_message().contains(message),
                "{name}: the message lacks {message:?}: {text}"
            );
        }
        Expected::Badge(contact_name) => {
            assert_eq!(response.status, 200, "{name}: {text}");
            assert_eq!(response.json["success"], true, "{name}: {text}");
            assert_eq!(
                response.json["data"]["contact_name"], contact_name,
                "{name}: {text}"
            );
        }
        Expected::Framing(status) => {
            assert_eq!(response.status, status, "{name}: {}", response.head);
            assert!(
                response.body.is_empty(),
                "{name}: the HTTP layer's rejection has a body: {text}"
            );
        }
    }
}

/// Asserts that the gateway process is running and `GET /healthz` returns 200.
async fn assert_still_serving(gateway: &mut Gateway, after: &str) {
    let exit = gateway.wait_for_exit(Duration::ZERO).await;
    assert!(
        exit.is_none(),
        "the gateway exited with {exit:?} after {after}"
    );
    let health = gateway.get("/healthz").await;
    assert_eq!(health.status, 200, "after {after}: {}", health.text);
}

#[tokio::test]
async fn attack_table_gets_expected_answers() {
    let contacts = contacts_file(CONTACTS);
    let hubspot = start_hubspot(1).await;
    let mut gateway = Gateway::start(&config(&contacts, &hubspot)).await;
    let requests = Requests::new(&gateway);

    for attack in attack_table(&requests) {
        let name = attack.name;
        let calls_before = upstream_calls(&hubspot).await;

        let bytes = raw_http::exchange(gateway.port, &attack.request, EXCHANGE_LIMIT)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let response = RawResponse::parse(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));

        assert_expected(&attack, &response);
        assert_eq!(
            upstream_calls(&hubspot).await,
            calls_before,
            "{name}: the request reached HubSpot"
        );
        assert_still_serving(&mut gateway, name).await;
    }

    // The control: a verified request for a number only HubSpot has reaches
    // HubSpot, so the rows above would have been caught had one got through.
    let calls_before = upstream_calls(&hubspot).await;
    let control = gateway.request_badge(SECRET, CONTROL_NUMBER).await;
    assert_eq!(control.status, 200, "{}", control.text);
    assert_eq!(
        control.data("contact_name"),
        CONTROL_NAME,
        "{}",
        control.text
    );
    assert_eq!(upstream_calls(&hubspot).await, calls_before + 1);
    hubspot.verify().await;
}

#[tokio::test]
async fn replay_with_other_number_is_unauthorized() {
    let contacts = contacts_file(CONTACTS);
    let hubspot = start_hubspot(0).await;
    let gateway = Gateway::start(&config(&contacts, &hubspot)).await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);

    let first = gateway.send(&request).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.data("contact_name"), ADA_NAME, "{}", first.text);

    // JustCall may retry a request unchanged, so the retry is served.
    let retry = gateway.send(&request).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.data("contact_name"), ADA_NAME, "{}", retry.text);

    let mut replay = request.clone();
    replay.contact_number = HUBSPOT_ONLY_NUMBER.to_string();
    let replayed = gateway.send(&replay).await;
    assert_eq!(replayed.status, 401, "{}", replayed.text);
    assert_eq!(replayed.body["success"], false, "{}", replayed.text);
    assert_eq!(replayed.error_code(), "unauthorized", "{}", replayed.text);
    assert!(
        replayed.error_message().contains("already used"),
        "{}",
        replayed.text
    );

    // The first number stays served under that signature.
    let again = gateway.send(&request).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(upstream_calls(&hubspot).await, 0);
    hubspot.verify().await;
}
