//! Record links: the result's `url`, the configured account, or the account
//! info that HubSpot returns, fetched once.

mod common;

use common::{
    account_details, adapter, contact, error_body, query, search_response, ACCOUNT_INFO_PATH,
    SEARCH_PATH, TOKEN,
};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_search(server: &MockServer, url: Option<&str>, expected_calls: u64) {
    let result = contact(
        "501",
        json!({"firstname": "Ada", "phone": "4155550123"}),
        url,
    );
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_response(vec![result])))
        .expect(expected_calls)
        .mount(server)
        .await;
}

async fn mount_account_info(server: &MockServer, expected_calls: u64) {
    Mock::given(method("GET"))
        .and(path(ACCOUNT_INFO_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(account_details(44237313, "app-eu1.hubspot.com")),
        )
        .expect(expected_calls)
        .mount(server)
        .await;
}

#[tokio::test]
async fn link_from_result_url() {
    let server = MockServer::start().await;
    let url = "https://app.hubspot.com/contacts/99/record/0-1/501";
    mount_search(&server, Some(url), 1).await;
    mount_account_info(&server, 0).await;

    let contacts = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(contacts[0].link, url);
}

#[tokio::test]
async fn result_url_not_web_is_replaced() {
    let server = MockServer::start().await;
    mount_search(&server, Some("javascript:alert(document.cookie)//"), 1).await;
    mount_account_info(&server, 0).await;

    let options = json!({"portal_id": "12345"});
    let contacts = adapter(&server, options).find(&query(2_000)).await.unwrap();

    assert_eq!(
        contacts[0].link,
        "https://app.hubspot.com/contacts/12345/record/0-1/501"
    );
}

#[tokio::test]
async fn link_from_configured_portal() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    mount_account_info(&server, 0).await;

    let options = json!({"portal_id": "12345", "ui_domain": "app-na2.hubspot.com"});
    let contacts = adapter(&server, options).find(&query(2_000)).await.unwrap();

    assert_eq!(
        contacts[0].link,
        "https://app-na2.hubspot.com/contacts/12345/record/0-1/501"
    );
}

#[tokio::test]
async fn configured_portal_uses_default_ui_domain() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    mount_account_info(&server, 0).await;

    let contacts = adapter(&server, json!({"portal_id": 12345}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(
        contacts[0].link,
        "https://app.hubspot.com/contacts/12345/record/0-1/501"
    );
}

#[tokio::test]
async fn account_info_fetched_once() {
    let server = MockServer::start().await;
    mount_search(&server, None, 2).await;
    mount_account_info(&server, 1).await;

    let adapter = adapter(&server, json!({}));
    let first = adapter.find(&query(2_000)).await.unwrap();
    let second = adapter.find(&query(2_000)).await.unwrap();

    let expected = "https://app-eu1.hubspot.com/contacts/44237313/record/0-1/501";
    assert_eq!(first[0].link, expected);
    assert_eq!(second[0].link, expected);
}

#[tokio::test]
async fn ui_domain_replaces_account_info_domain() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    mount_account_info(&server, 1).await;

    let contacts = adapter(&server, json!({"ui_domain": "app-na2.hubspot.com"}))
        .find(&query(2_000))
        .await
        .unwrap();

    assert_eq!(
        contacts[0].link,
        "https://app-na2.hubspot.com/contacts/44237313/record/0-1/501"
    );
}

#[tokio::test]
async fn start_fetches_account_info() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    mount_account_info(&server, 1).await;

    let adapter = adapter(&server, json!({}));
    adapter.start().await.unwrap();
    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert_eq!(
        contacts[0].link,
        "https://app-eu1.hubspot.com/contacts/44237313/record/0-1/501"
    );
}

#[tokio::test]
async fn start_skips_account_info_with_portal() {
    let server = MockServer::start().await;
    mount_account_info(&server, 0).await;

    adapter(&server, json!({"portal_id": 12345}))
        .start()
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_start_is_retried_by_lookup() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_INFO_PATH))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(error_body("Service unavailable", "SERVICE_UNAVAILABLE")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_account_info(&server, 1).await;

    let adapter = adapter(&server, json!({}));
    let start_error = adapter.start().await.unwrap_err();
    let contacts = adapter.find(&query(2_000)).await.unwrap();

    assert!(
        matches!(
            start_error,
            badgegate_adapter::LookupError::Server { status: 503, .. }
        ),
        "{start_error:?}"
    );
    assert_eq!(
        contacts[0].link,
        "https://app-eu1.hubspot.com/contacts/44237313/record/0-1/501"
    );
}

#[tokio::test]
async fn failed_account_info_fails_lookup() {
    // A contact without a link cannot be returned, so the lookup fails with
    // the account-info error, and the next lookup fetches account info again.
    let server = MockServer::start().await;
    mount_search(&server, None, 2).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_INFO_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(error_body(
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
        )))
        .expect(2)
        .mount(&server)
        .await;

    let adapter = adapter(&server, json!({}));
    let first = adapter.find(&query(2_000)).await.unwrap_err();
    let second = adapter.find(&query(2_000)).await.unwrap_err();

    assert_eq!(first, badgegate_adapter::LookupError::Auth { status: 403 });
    assert_eq!(second, badgegate_adapter::LookupError::Auth { status: 403 });
}

#[tokio::test]
async fn account_info_without_ui_domain_is_bad_response() {
    let server = MockServer::start().await;
    mount_search(&server, None, 1).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_INFO_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"portalId": 44237313, "uiDomain": ""})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let error = adapter(&server, json!({}))
        .find(&query(2_000))
        .await
        .unwrap_err();

    assert!(
        matches!(error, badgegate_adapter::LookupError::BadResponse(_)),
        "{error:?}"
    );
}
