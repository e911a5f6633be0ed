//! The three OAuth flows against a mock token endpoint: the form each sends,
//! one token shared by concurrent lookups, and rejected credentials.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use badgegate_adapter::LookupError;
use common::{
    adapter, build, fixtures_dir, mount_search, mount_token, options, query, record,
    search_response, token_requests, token_response, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
    TOKEN_PATH, USERNAME,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn one_contact() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(search_response(vec![record(
        "Contact",
        "0035e00000AbCdEAAZ",
        "Ada Lovelace",
        Some("(415) 555-0123"),
        "2025-01-15T08:30:00.000+0000",
    )]))
}

#[tokio::test]
async fn one_token_for_concurrent_lookups() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_response(&server, "token-1"))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_search(&server, "token-1", one_contact(), 30).await;
    let adapter = adapter(&server, json!({}));

    let lookups: Vec<_> = (0..30)
        .map(|_| {
            let adapter = adapter.clone();
            tokio::spawn(async move { adapter.find(&query(3_000)).await })
        })
        .collect();
    for lookup in lookups {
        let contacts = lookup.await.unwrap().unwrap();
        assert_eq!(contacts.len(), 1);
    }
}

#[tokio::test]
async fn client_credentials_form() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let adapter = adapter(&server, json!({}));

    adapter.start().await.unwrap();

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    let form = &requests[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form.len(), 3);
}

#[tokio::test]
async fn refresh_token_form() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let adapter = build(json!({
        "auth": {
            "type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        },
        "login_url": server.uri(),
    }));

    adapter.start().await.unwrap();

    let requests = token_requests(&server).await;
    let form = &requests[0];
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], REFRESH_TOKEN);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form.len(), 4);
}

#[tokio::test]
async fn refresh_token_form_without_secret() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let adapter = build(json!({
        "auth": {
            "type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": REFRESH_TOKEN,
        },
        "login_url": server.uri(),
    }));

    adapter.start().await.unwrap();

    let requests = token_requests(&server).await;
    let form = &requests[0];
    assert_eq!(form["grant_type"], "refresh_token");
    assert!(!form.contains_key("client_secret"), "{form:?}");
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
}

#[tokio::test]
async fn jwt_bearer_assertion_verifies() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let adapter = build(json!({
        "auth": {
            "type": "jwt_bearer",
            "client_id": CLIENT_ID,
            "username": USERNAME,
            "private_key_path": "test-only-private-key.pem",
        },
        "login_url": server.uri(),
    }));

    adapter.start().await.unwrap();

    let requests = token_requests(&server).await;
    let form = &requests[0];
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(form.len(), 2);

    let public_key = std::fs::read(fixtures_dir().join("test-only-public-key.pem")).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[server.uri()]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(USERNAME.to_string());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let decoded = jsonwebtoken::decode::<AssertionClaims>(
        &form["assertion"],
        &DecodingKey::from_rsa_pem(&public_key).unwrap(),
        &validation,
    )
    .expect("the assertion verifies with the matching public key");

    assert_eq!(decoded.header.alg, Algorithm::RS256);
    assert_eq!(decoded.claims.iss, CLIENT_ID);
    assert_eq!(decoded.claims.sub, USERNAME);
    assert_eq!(decoded.claims.aud, server.uri());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        decoded.claims.exp > now,
        "exp {} is in the past",
        decoded.claims.exp
    );
    assert!(
        decoded.claims.exp <= now + 180,
        "exp {} is more than 3 minutes ahead of {now}",
        decoded.claims.exp
    );
}

#[tokio::test]
async fn start_token_serves_lookups() {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    mount_search(&server, "token-1", one_contact(), 2).await;
    let adapter = adapter(&server, json!({}));

    adapter.start().await.unwrap();
    adapter.find(&query(2_000)).await.unwrap();
    adapter.find(&query(2_000)).await.unwrap();
}

#[tokio::test]
async fn bad_credentials_fail_start() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "invalid client credentials",
        })))
        .expect(2)
        .mount(&server)
        .await;
    let adapter = adapter(&server, json!({}));

    let start_error = adapter.start().await.unwrap_err();
    let find_error = adapter.find(&query(2_000)).await.unwrap_err();

    assert_eq!(start_error, LookupError::Auth { status: 400 });
    assert_eq!(find_error, LookupError::Auth { status: 400 });
    for error in [start_error, find_error] {
        let printed = format!("{error} {error:?}");
        assert!(!printed.contains(CLIENT_SECRET), "{printed}");
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn token_without_instance_url_fails_start() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "token-1", "token_type": "Bearer"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let adapter = build(options(&server, json!({})));

    let error = adapter.start().await.unwrap_err();

    assert_eq!(
        error,
        LookupError::BadResponse("token response has no valid instance_url".to_string())
    );
}
