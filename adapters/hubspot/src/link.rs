//! Links to contact records in HubSpot's web interface, for search results
//! that come without a `url`.

use std::time::Duration;

use badgegate_adapter::http::{path_segment, read_json, send};
use badgegate_adapter::{LookupError, Secret};
use serde::Deserialize;

/// The account id and web host that a contact's record link is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordLinks {
    ui_domain: String,
    portal_id: String,
}

impl RecordLinks {
    pub fn new(ui_domain: String, portal_id: String) -> Self {
        RecordLinks {
            ui_domain,
            portal_id,
        }
    }

    /// Builds the record link of a contact. `0-1` is HubSpot's object type id
    /// for contacts. The id is percent-encoded, so it stays one segment of
    /// the link's path.
    // NOTE: an id of `.` or `..` stays as it is, and a browser resolves it
    // against the link's path. HubSpot's contact ids are numbers, so only a
    // faulty or hostile response sends one.
    pub fn contact_url(&self, id: &str) -> String {
        format!(
            "https://{}/contacts/{}/record/0-1/{}",
            self.ui_domain,
            self.portal_id,
            path_segment(id)
        )
    }
}

/// The fields of `GET /account-info/v3/details` that record links need.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountDetails {
    portal_id: AccountId,
    ui_domain: String,
}

/// `portalId`, accepted as an integer or as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum AccountId {
    Number(u64),
    Text(String),
}

/// Fetches the account's id and web host from HubSpot's account-info
/// endpoint. `ui_domain_override`, when set, replaces the returned `uiDomain`.
pub(crate) async fn fetch_record_links(
    http: &reqwest::Client,
    base_url: &str,
    access_token: &Secret,
    ui_domain_override: Option<&str>,
    timeout: Duration,
) -> Result<RecordLinks, LookupError> {
    let started = tokio::time::Instant::now();
    let request = http
        .get(format!("{base_url}/account-info/v3/details"))
        .bearer_auth(access_token.expose());
    let response = send(request, timeout).await?;
    let details: AccountDetails =
        read_json(response, timeout.saturating_sub(started.elapsed())).await?;

    let portal_id = match details.portal_id {
        AccountId::Number(id) => id.to_string(),
        AccountId::Text(text) if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) => {
            text
        }
        AccountId::Text(_) => {
            return Err(LookupError::BadResponse(
                "account info has a portalId that is not a number".to_string(),
            ))
        }
    };
    let ui_domain = match ui_domain_override {
        Some(domain) => domain.to_string(),
        None if is_host_name(&details.ui_domain) => details.ui_domain,
        None => {
            return Err(LookupError::BadResponse(
                "account info has a uiDomain that is not a host name".to_string(),
            ))
        }
    };
    Ok(RecordLinks::new(ui_domain, portal_id))
}

/// Returns whether `text` is a bare host name, optionally with a port, so that it can
/// go between `https://` and the path of a link.
pub(crate) fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_url_encodes_odd_ids() {
        let links = RecordLinks::new("app.hubspot.com".into(), "7".into());
        assert_eq!(
            links.contact_url("501"),
            "https://app.hubspot.com/contacts/7/record/0-1/501"
        );
        assert_eq!(
            links.contact_url("7\n/../x?y#z"),
            "https://app.hubspot.com/contacts/7/record/0-1/7%0A%2F..%2Fx%3Fy%23z"
        );
    }
}
