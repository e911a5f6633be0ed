//! Arbitrary bytes as the body of a badge request, through the signature
//! check with fixed, correctly signed headers, and then through the caller
//! number parsing the endpoint does next. Besides not panicking, a body may
//! verify only when its `request_id` is the one the headers were signed for.

#![no_main]

use std::time::Duration;

use badgegate::config::JustcallSettings;
use badgegate::signature::{sign, SignatureHeaders, UnverifiedRequest, Verifier};
use badgegate_adapter::phone::{parse_caller, Region};
use badgegate_adapter::Secret;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret";
const URL: &str = "https://badges.example.com/justcall/contact-badge";
const REQUEST_ID: &str = "01HSGZRD0PHRCCHM46JRCRYMC4";
const TIMESTAMP: &str = "2026-03-21 17:08:22";
/// The gateway's clock: eight seconds after the request was signed.
const NOW: &str = "2026-03-21T17:08:30Z";

fn settings(verify_signatures: bool) -> JustcallSettings {
    JustcallSettings {
        secrets: vec![Secret::new(SECRET)],
        public_urls: vec![URL.to_string()],
        trust_forwarded_headers: false,
        timestamp_tolerance: Some(Duration::from_secs(300)),
        accept_plain_sha256: true,
        verify_signatures,
    }
}

fn signed_request(body: &[u8]) -> UnverifiedRequest<'_> {
    let headers = SignatureHeaders {
        signature: [sign(SECRET, URL, REQUEST_ID, TIMESTAMP)]
            .into_iter()
            .collect(),
        version: ["v1"].into_iter().collect(),
        timestamp: [TIMESTAMP].into_iter().collect(),
    };
    UnverifiedRequest::new(headers, body, vec![URL.to_string()])
}

fuzz_target!(|body: &[u8]| {
    let now: DateTime<Utc> = NOW.parse().expect("NOW is an RFC 3339 time");
    let region: Region = "US".parse().expect("US is a region");

    // A new verifier for every input, because a verifier remembers the
    // numbers each signature arrived with, and inputs must not depend on
    // the ones before them.
    let checked = Verifier::new(&settings(true)).verify(signed_request(body), now);
    let unchecked = Verifier::new(&settings(false)).verify(signed_request(body), now);

    if let Ok(verified) = &checked {
        assert_eq!(
            verified.request_id(),
            REQUEST_ID,
            "a body with another request_id verified: {:?}",
            String::from_utf8_lossy(body)
        );
        let unchecked = unchecked
            .as_ref()
            .expect("a body that verifies is valid without verification too");
        assert_eq!(unchecked.contact_number(), verified.contact_number());
    }
    for verified in [checked, unchecked].into_iter().flatten() {
        let _ = parse_caller(verified.contact_number(), region);
        let _ = format!("{verified:?}");
    }
});
