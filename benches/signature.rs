//! Signature verification of one valid request, as the badge endpoint runs
//! it: header checks, the timestamp window, two JSON parses of the body, the
//! HMAC and the replay memory. `hmac_sha256_sign` times the HMAC alone.

use std::hint::black_box;
use std::path::Path;

use badgegate::signature::{sign, SignatureHeaders, UnverifiedRequest, Verifier};
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const SECRET: &str = "bench-secret";
const URL: &str = "http://127.0.0.1:8080/justcall/contact-badge";
const REQUEST_ID: &str = "01HSGZRD0PHRCCHM46JRCRYMC4";
const TIMESTAMP: &str = "2026-03-21 17:08:22";
const BODY: &str = r#"{"request_id":"01HSGZRD0PHRCCHM46JRCRYMC4","contact_number":"14155550123"}"#;

/// Loads the shipped gateway.toml with the secret above and its other defaults,
/// including the 300 s timestamp window.
fn verifier() -> Verifier {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("gateway.toml")).expect("gateway.toml is readable");
    let env = |name: &str| (name == "JUSTCALL_API_SECRET").then(|| SECRET.to_string());
    let settings = badgegate::config::load_text(&root.join("gateway.toml"), &text, &env)
        .expect("the shipped gateway.toml is valid");
    Verifier::new(&settings.justcall)
}

fn request(signature: &str) -> UnverifiedRequest<'_> {
    let headers = SignatureHeaders {
        signature: [signature].into_iter().collect(),
        version: ["v1"].into_iter().collect(),
        timestamp: [TIMESTAMP].into_iter().collect(),
    };
    UnverifiedRequest::new(headers, BODY.as_bytes(), vec![URL.to_string()])
}

fn bench_signature(c: &mut Criterion) {
    let verifier = verifier();
    let signature = sign(SECRET, URL, REQUEST_ID, TIMESTAMP);
    let now = Utc.with_ymd_and_hms(2026, 3, 21, 17, 8, 22).unwrap();
    verifier
        .verify(request(&signature), now)
        .expect("the benchmark request is signed correctly");

    c.bench_function("signature/verify_valid_request", |b| {
        b.iter_batched(
            || request(&signature),
            |unverified| verifier.verify(unverified, black_box(now)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("signature/hmac_sha256_sign", |b| {
        b.iter(|| sign(black_box(SECRET), black_box(URL), REQUEST_ID, TIMESTAMP))
    });
}

criterion_group!(benches, bench_signature);
criterion_main!(benches);
