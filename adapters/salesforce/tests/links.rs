//! Record links: the configured `lightning_url`, or `instance_url` when its
//! host is not a My Domain host. Deriving the Lightning host from a My Domain
//! `instance_url` is covered by the unit tests, because a mock server cannot
//! serve `*.my.salesforce.com`.

mod common;

use common::{adapter, mount_search, mount_token, query, record, search_response};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

async fn link_of_lookup(extra: serde_json::Value) -> (String, MockServer) {
    let server = MockServer::start().await;
    mount_token(&server, "token-1", 1).await;
    let found = record(
        "Lead",
        "00Q5e00000XyZAAA",
        "Ada Lovelace",
        Some("(415) 555-0123"),
        "2025-01-15T08:30:00.000+0000",
    );
    let response = ResponseTemplate::new(200).set_body_json(search_response(vec![found]));
    mount_search(&server, "token-1", response, 1).await;

    let contacts = adapter(&server, extra).find(&query(2_000)).await.unwrap();

    (contacts[0].link.clone(), server)
}

#[tokio::test]
async fn configured_lightning_url() {
    let (link, _) = link_of_lookup(json!({
        "lightning_url": "https://acme.lightning.force.com/",
    }))
    .await;
    assert_eq!(
        link,
        "https://acme.lightning.force.com/lightning/r/Lead/00Q5e00000XyZAAA/view"
    );
}

#[tokio::test]
async fn other_instance_host_is_used_as_is() {
    let (link, server) = link_of_lookup(json!({})).await;
    assert_eq!(
        link,
        format!("{}/lightning/r/Lead/00Q5e00000XyZAAA/view", server.uri())
    );
}
