use std::time::Duration;

use badgegate_adapter::Secret;
use chrono::{DateTime, Utc};

use super::*;
use crate::config::JustcallSettings;

const SECRET: &str = "s3cr3t-key-01";
const URL: &str = "https://badges.example.com/justcall/contact-badge";
const REQUEST_ID: &str = "01HSGZRD0PHRCCHM46JRCRYMC4";
const TIMESTAMP: &str = "2026-03-21 17:08:22";
const NUMBER: &str = "14155550123";

fn settings() -> JustcallSettings {
    JustcallSettings {
        secrets: vec![Secret::new(SECRET)],
        public_urls: vec![URL.into()],
        trust_forwarded_headers: false,
        timestamp_tolerance: Some(Duration::from_secs(300)),
        accept_plain_sha256: true,
        verify_signatures: true,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-21T17:10:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Request {
    secret: &'static str,
    signed_url: &'static str,
    signed_request_id: &'static str,
    signed_timestamp: &'static str,
    sent_timestamp: &'static str,
    body: String,
    version: Option<&'static str>,
}

impl Request {
    fn valid() -> Self {
        Request {
            secret: SECRET,
            signed_url: URL,
            signed_request_id: REQUEST_ID,
            signed_timestamp: TIMESTAMP,
            sent_timestamp: TIMESTAMP,
            body: body(REQUEST_ID, NUMBER),
            version: Some("v1"),
        }
    }

    fn build(&self) -> UnverifiedRequest<'_> {
        let signature = sign(
            self.secret,
            self.signed_url,
            self.signed_request_id,
            self.signed_timestamp,
        );
        let headers = SignatureHeaders {
            signature: [signature].into_iter().collect(),
            version: self.version.into_iter().collect(),
            timestamp: [self.sent_timestamp].into_iter().collect(),
        };
        UnverifiedRequest::new(headers, self.body.as_bytes(), vec![URL.to_string()])
    }
}

fn body(request_id: &str, number: &str) -> String {
    serde_json::json!({"request_id": request_id, "contact_number": number}).to_string()
}

fn rejection(result: Result<VerifiedRequest, RequestError>) -> Rejection {
    match result {
        Err(RequestError::Unauthorized(rejection)) => rejection,
        other => panic!("expected a 401 rejection, got {other:?}"),
    }
}

#[test]
fn valid_request_verifies_with_hmac() {
    let valid = Request::valid();
    let verified = Verifier::new(&settings())
        .verify(valid.build(), now())
        .unwrap();
    assert_eq!(verified.request_id(), REQUEST_ID);
    assert_eq!(verified.contact_number(), NUMBER);
    assert_eq!(verified.scheme(), Scheme::Hmac);
}

#[test]
fn tampered_secret_is_rejected() {
    let request = Request {
        secret: "another-secret",
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn tampered_url_is_rejected() {
    let request = Request {
        signed_url: "https://badges.example.com/other",
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn tampered_request_id_is_rejected() {
    let request = Request {
        body: body("01HSGZRD0PHRCCHM46JRCRYMC5", NUMBER),
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn tampered_timestamp_is_rejected() {
    let request = Request {
        sent_timestamp: "2026-03-21 17:08:23",
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn reformatted_timestamp_is_rejected() {
    // The same instant in another form is a different signed message.
    let request = Request {
        sent_timestamp: "1774112902",
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn tampered_number_with_reused_signature_is_rejected() {
    let verifier = Verifier::new(&settings());
    verifier.verify(Request::valid().build(), now()).unwrap();
    let tampered = Request {
        body: body(REQUEST_ID, "442079460958"),
        ..Request::valid()
    };
    assert_eq!(
        rejection(verifier.verify(tampered.build(), now())),
        Rejection::ReusedSignature
    );
}

#[test]
fn reused_signature_without_number_is_rejected() {
    let verifier = Verifier::new(&settings());
    verifier.verify(Request::valid().build(), now()).unwrap();
    let cases = [
        serde_json::json!({"request_id": REQUEST_ID}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": ""}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": null}),
    ];
    for case in cases {
        let replay = Request {
            body: case.to_string(),
            ..Request::valid()
        };
        assert_eq!(
            rejection(verifier.verify(replay.build(), now())),
            Rejection::ReusedSignature,
            "{case}"
        );
    }
}

#[test]
fn reload_widening_window_keeps_signatures() {
    let narrow = JustcallSettings {
        timestamp_tolerance: Some(Duration::from_secs(100)),
        ..settings()
    };
    let verifier = Verifier::new(&narrow);
    verifier.verify(Request::valid().build(), now()).unwrap();

    let wide = JustcallSettings {
        timestamp_tolerance: Some(Duration::from_secs(900)),
        ..settings()
    };
    let reloaded = verifier.reloaded(&wide);
    let tampered = Request {
        body: body(REQUEST_ID, "442079460958"),
        ..Request::valid()
    };
    // Twice the old window later, the timestamp is inside the new window.
    let later = now() + Duration::from_secs(400);
    assert_eq!(
        rejection(reloaded.verify(tampered.build(), later)),
        Rejection::ReusedSignature
    );
}

#[test]
fn reload_replacing_the_secret_rejects_the_old_one() {
    let verifier = Verifier::new(&settings());
    verifier.verify(Request::valid().build(), now()).unwrap();

    let replaced = JustcallSettings {
        secrets: vec![Secret::new("new-secret")],
        ..settings()
    };
    // Same thread and URL as the request above, so this thread has the old
    // secret's digest states for that URL.
    let reloaded = verifier.reloaded(&replaced);
    let old = Request {
        signed_request_id: "old-secret-request",
        body: body("old-secret-request", NUMBER),
        ..Request::valid()
    };
    assert!(matches!(
        rejection(reloaded.verify(old.build(), now())),
        Rejection::Mismatch { .. }
    ));
    let new = Request {
        secret: "new-secret",
        signed_request_id: "new-secret-request",
        body: body("new-secret-request", NUMBER),
        ..Request::valid()
    };
    assert_eq!(
        reloaded.verify(new.build(), now()).unwrap().scheme(),
        Scheme::Hmac
    );
    // The verifier before the reload, still used by requests that started
    // under it, keeps its own secret.
    assert!(matches!(
        rejection(verifier.verify(new.build(), now())),
        Rejection::Mismatch { .. }
    ));
}

#[test]
fn repeated_request_with_same_number_verifies() {
    let verifier = Verifier::new(&settings());
    verifier.verify(Request::valid().build(), now()).unwrap();
    assert!(verifier.verify(Request::valid().build(), now()).is_ok());
}

#[test]
fn plain_sha256_is_accepted_unless_disabled() {
    let message = scheme::message(SECRET, URL, REQUEST_ID, TIMESTAMP);
    let plain = hex::encode(scheme::sha256(&message));
    let text = body(REQUEST_ID, NUMBER);
    let build = || {
        let headers = SignatureHeaders {
            signature: [plain.as_str()].into_iter().collect(),
            version: HeaderValues::default(),
            timestamp: [TIMESTAMP].into_iter().collect(),
        };
        UnverifiedRequest::new(headers, text.as_bytes(), vec![URL.to_string()])
    };
    let verified = Verifier::new(&settings()).verify(build(), now()).unwrap();
    assert_eq!(verified.scheme(), Scheme::PlainSha256);

    let strict = JustcallSettings {
        accept_plain_sha256: false,
        ..settings()
    };
    let result = Verifier::new(&strict).verify(build(), now());
    assert!(matches!(rejection(result), Rejection::Mismatch { .. }));
}

#[test]
fn any_configured_secret_verifies() {
    let rotated = JustcallSettings {
        secrets: vec![Secret::new("new-secret"), Secret::new(SECRET)],
        ..settings()
    };
    assert!(Verifier::new(&rotated)
        .verify(Request::valid().build(), now())
        .is_ok());
    let request = Request {
        secret: "new-secret",
        ..Request::valid()
    };
    assert!(Verifier::new(&rotated)
        .verify(request.build(), now())
        .is_ok());
}

#[test]
fn any_configured_url_verifies() {
    let request = Request {
        signed_url: "https://old-host.example.com/badge",
        ..Request::valid()
    };
    let mut unverified = request.build();
    unverified.urls_for_test(vec![
        URL.into(),
        "https://old-host.example.com/badge".into(),
    ]);
    assert!(Verifier::new(&settings()).verify(unverified, now()).is_ok());
}

#[test]
fn missing_version_means_v1() {
    let request = Request {
        version: None,
        ..Request::valid()
    };
    assert!(Verifier::new(&settings())
        .verify(request.build(), now())
        .is_ok());
}

#[test]
fn unknown_version_is_rejected_by_name() {
    let request = Request {
        version: Some("v2"),
        ..Request::valid()
    };
    let rejection = rejection(Verifier::new(&settings()).verify(request.build(), now()));
    assert_eq!(rejection, Rejection::UnsupportedVersion("v2".into()));
    assert!(rejection.to_string().contains("`v2`"));
}

#[test]
fn timestamp_tolerance_edges() {
    let verifier = Verifier::new(&settings());
    let signed_at = DateTime::parse_from_rfc3339("2026-03-21T17:08:22Z")
        .unwrap()
        .with_timezone(&Utc);
    let window = chrono::Duration::seconds(300);
    let edge_cases = [
        (signed_at + window, true),
        (signed_at - window, true),
        (signed_at + window + chrono::Duration::seconds(1), false),
        (signed_at - window - chrono::Duration::seconds(1), false),
    ];
    let valid = Request::valid();
    for (now, accepted) in edge_cases {
        let result = verifier.verify(valid.build(), now);
        match accepted {
            true => assert!(result.is_ok(), "at {now}: {result:?}"),
            false => assert!(
                matches!(rejection(result), Rejection::StaleTimestamp { .. }),
                "at {now}"
            ),
        }
    }
}

#[test]
fn unix_seconds_and_milliseconds_timestamps() {
    for timestamp in ["1774112902", "1774112902000"] {
        let request = Request {
            signed_timestamp: timestamp,
            sent_timestamp: timestamp,
            ..Request::valid()
        };
        let result = Verifier::new(&settings()).verify(request.build(), now());
        assert!(result.is_ok(), "{timestamp}: {result:?}");
    }
}

#[test]
fn unparsable_timestamp_is_rejected() {
    let request = Request {
        signed_timestamp: "soon",
        sent_timestamp: "soon",
        ..Request::valid()
    };
    let result = Verifier::new(&settings()).verify(request.build(), now());
    assert_eq!(rejection(result), Rejection::InvalidTimestamp);
}

#[test]
fn zero_tolerance_disables_the_window() {
    let open = JustcallSettings {
        timestamp_tolerance: None,
        ..settings()
    };
    let far_future = now() + chrono::Duration::days(400);
    assert!(Verifier::new(&open)
        .verify(Request::valid().build(), far_future)
        .is_ok());
}

#[test]
fn missing_and_repeated_headers_are_rejected() {
    let verifier = Verifier::new(&settings());
    let valid = Request::valid();
    let mut request = valid.build();
    request.headers_for_test().signature = HeaderValues::default();
    assert_eq!(
        rejection(verifier.verify(request, now())),
        Rejection::MissingSignature
    );

    let mut request = valid.build();
    request.headers_for_test().signature.push("0".repeat(64));
    assert_eq!(
        rejection(verifier.verify(request, now())),
        Rejection::RepeatedHeader("x-justcall-signature")
    );

    let mut request = valid.build();
    request.headers_for_test().timestamp = HeaderValues::default();
    assert_eq!(
        rejection(verifier.verify(request, now())),
        Rejection::MissingTimestamp
    );

    let mut request = valid.build();
    request.headers_for_test().signature = ["not-hex"].into_iter().collect();
    assert_eq!(
        rejection(verifier.verify(request, now())),
        Rejection::MalformedSignature
    );
}

#[test]
fn unsigned_request_with_bad_body_is_unauthorized() {
    let headers = SignatureHeaders::default();
    let request = UnverifiedRequest::new(headers, b"{not json", vec![URL.to_string()]);
    assert_eq!(
        rejection(Verifier::new(&settings()).verify(request, now())),
        Rejection::MissingSignature
    );
}

#[test]
fn body_errors_name_the_field() {
    let cases = [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        (r#"{"contact_number": "14155550123"}"#, "request_id"),
        (
            r#"{"request_id": "", "contact_number": "14155550123"}"#,
            "request_id",
        ),
        (
            r#"{"request_id": 5, "contact_number": "14155550123"}"#,
            "request_id",
        ),
    ];
    for (body, expected_field) in cases {
        let request = Request {
            body: body.into(),
            ..Request::valid()
        };
        match Verifier::new(&settings()).verify(request.build(), now()) {
            Err(RequestError::BadRequest {
                field, verified, ..
            }) => {
                assert_eq!(field, expected_field, "{body}");
                assert_eq!(verified, None, "{body}");
            }
            other => panic!("{body}: expected 400, got {other:?}"),
        }
    }
}

#[test]
fn contact_number_errors_come_after_the_signature() {
    let cases = [
        serde_json::json!({"request_id": REQUEST_ID}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": ""}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": ["1"]}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": {"digits": "1"}}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": null}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": true}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": -14155550123_i64}),
        serde_json::json!({"request_id": REQUEST_ID, "contact_number": 14155550123.5}),
    ];
    for case in cases {
        let request = Request {
            body: case.to_string(),
            ..Request::valid()
        };
        match Verifier::new(&settings()).verify(request.build(), now()) {
            Err(RequestError::BadRequest {
                field, verified, ..
            }) => {
                let verified = verified.unwrap_or_else(|| panic!("{case}: not verified"));
                assert_eq!(field, "contact_number", "{case}");
                assert_eq!(verified.scheme, Scheme::Hmac, "{case}");
                assert_eq!(verified.request_id, REQUEST_ID, "{case}");
            }
            other => panic!("{case}: expected 400, got {other:?}"),
        }
    }
}

#[test]
fn numeric_contact_number_is_accepted() {
    let request = Request {
        body: format!(r#"{{"request_id": "{REQUEST_ID}", "contact_number": 14155550123}}"#),
        ..Request::valid()
    };
    let verified = Verifier::new(&settings())
        .verify(request.build(), now())
        .unwrap();
    assert_eq!(verified.contact_number(), "14155550123");
}

#[test]
fn escaped_fields_are_decoded_before_use() {
    // "\u0030" is "0" and "\u0031" is "1": the signature covers the decoded id.
    let escaped_id = REQUEST_ID.replacen('0', "\\u0030", 1);
    let request = Request {
        body: format!(r#"{{"request_id": "{escaped_id}", "contact_number": "\u00314155550123"}}"#),
        ..Request::valid()
    };
    let verified = Verifier::new(&settings())
        .verify(request.build(), now())
        .unwrap();
    assert_eq!(verified.request_id(), REQUEST_ID);
    assert_eq!(verified.contact_number(), "14155550123");
}

#[test]
fn unverified_mode_skips_the_signature() {
    let open = JustcallSettings {
        verify_signatures: false,
        ..settings()
    };
    let text = body(REQUEST_ID, NUMBER);
    let request = UnverifiedRequest::new(SignatureHeaders::default(), text.as_bytes(), Vec::new());
    let verified = Verifier::new(&open).verify(request, now()).unwrap();
    assert_eq!(verified.scheme(), Scheme::Unverified);
}

#[test]
fn duplicate_fields_are_rejected() {
    let cases = [
        (
            format!(
                r#"{{"request_id": "{REQUEST_ID}", "request_id": "other", "contact_number": "1"}}"#
            ),
            "request_id",
        ),
        (
            format!(
                r#"{{"request_id": "{REQUEST_ID}", "contact_number": "14155550123", "contact_number": "442079460958"}}"#
            ),
            "contact_number",
        ),
    ];
    for (body, expected_field) in cases {
        let request = Request {
            body: body.clone(),
            ..Request::valid()
        };
        match Verifier::new(&settings()).verify(request.build(), now()) {
            Err(RequestError::BadRequest { field, .. }) => {
                assert_eq!(field, expected_field, "{body}")
            }
            other => panic!("{body}: expected 400, got {other:?}"),
        }
    }
}
