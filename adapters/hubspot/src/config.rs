//! The keys of a `type = "hubspot"` source table and their validation.

use badgegate_adapter::{parse_options, BuildError, Secret};
use reqwest::Url;
use serde::Deserialize;

use crate::link::{is_host_name, RecordLinks};

/// Default root URL of HubSpot's API.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// Default host of HubSpot's web interface, used for record links when
/// `portal_id` is set without `ui_domain`.
pub(crate) const DEFAULT_UI_DOMAIN: &str = "app.hubspot.com";

/// The source table's own keys, as written in the config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// Private app access token with the `crm.objects.contacts.read` scope,
    /// sent as `Authorization: Bearer`. Required, and usually written as
    /// `access_token = "${HUBSPOT_TOKEN}"`.
    access_token: Option<Secret>,
    /// Root URL of HubSpot's API. Default `https://api.hubapi.com`.
    base_url: Option<String>,
    /// HubSpot account id (portal id), as an integer or a string of digits.
    /// With it, record links for results without `url` are built without
    /// calling HubSpot's account-info endpoint.
    portal_id: Option<serde_json::Value>,
    /// Host name of HubSpot's web interface for record links, such as
    /// `app-eu1.hubspot.com`. Default `app.hubspot.com` when `portal_id` is
    /// set. Without `portal_id`, the default is the `uiDomain` that account
    /// info returns.
    ui_domain: Option<String>,
}

/// Validated settings of one HubSpot source. `Debug` shows the token as
/// `[redacted]`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub access_token: Secret,
    /// API root without a trailing slash, so paths are appended as `/crm/...`.
    pub base_url: String,
    /// Link settings taken from the config file, when `portal_id` is set.
    pub configured_links: Option<RecordLinks>,
    /// Host from `ui_domain` when `portal_id` is not set. It replaces the
    /// `uiDomain` from account info.
    pub ui_domain_override: Option<String>,
}

impl Config {
    /// Parses and validates the source's options. The error names the key at
    /// fault and what to write instead.
    pub fn from_options(options: serde_json::Value) -> Result<Config, BuildError> {
        let options: Options = parse_options(options)?;

        let access_token = match options.access_token {
            Some(token) if !token.expose().trim().is_empty() => token,
            _ => {
                return Err(BuildError::for_key(
                    "access_token",
                    "missing or empty. Set a HubSpot private app token with the \
                     crm.objects.contacts.read scope, e.g. access_token = \"${HUBSPOT_TOKEN}\"",
                ))
            }
        };

        let base_url = match options.base_url {
            Some(value) => validate_base_url(&value)?,
            None => DEFAULT_BASE_URL.to_string(),
        };

        let ui_domain = options
            .ui_domain
            .map(|value| validate_ui_domain(&value))
            .transpose()?;
        let portal_id = options
            .portal_id
            .map(|value| validate_portal_id(&value))
            .transpose()?;

        let (configured_links, ui_domain_override) = match portal_id {
            Some(portal_id) => {
                let ui_domain = ui_domain.unwrap_or_else(|| DEFAULT_UI_DOMAIN.to_string());
                (Some(RecordLinks::new(ui_domain, portal_id)), None)
            }
            None => (None, ui_domain),
        };

        Ok(Config {
            access_token,
            base_url,
            configured_links,
            ui_domain_override,
        })
    }
}

/// Checks that `value` is an absolute http(s) URL that paths can be appended
/// to, and returns it without trailing slashes.
fn validate_base_url(value: &str) -> Result<String, BuildError> {
    let invalid = |reason: &str| {
        BuildError::for_key(
            "base_url",
            format!("`{}` is not a valid API root URL ({reason}). Write an http(s) URL such as \"{DEFAULT_BASE_URL}\"", badgegate_adapter::http::without_credentials(value)),
        )
    };

    let url = Url::parse(value.trim()).map_err(|error| invalid(&error.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain credentials"));
    }

    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Accepts a positive integer or a string of ASCII digits.
fn validate_portal_id(value: &serde_json::Value) -> Result<String, BuildError> {
    let digits = match value {
        serde_json::Value::Number(number) => number.as_u64().map(|id| id.to_string()),
        serde_json::Value::String(text) => {
            let text = text.trim();
            let all_digits = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
            all_digits.then(|| text.to_string())
        }
        _ => None,
    };
    digits.ok_or_else(|| {
        BuildError::for_key(
            "portal_id",
            format!(
                "`{value}` is not a HubSpot account id. Write the number shown in your \
                 HubSpot URLs, e.g. portal_id = 44237313"
            ),
        )
    })
}

/// Accepts a bare host name, optionally with a port, such as `app-eu1.hubspot.com`.
fn validate_ui_domain(value: &str) -> Result<String, BuildError> {
    let domain = value.trim();
    if !is_host_name(domain) {
        return Err(BuildError::for_key(
            "ui_domain",
            format!(
                "`{value}` is not a host name. Write the host of HubSpot's web interface \
                 without scheme or path, e.g. ui_domain = \"app-eu1.hubspot.com\""
            ),
        ));
    }
    Ok(domain.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base_url_defaults_to_hubapi() {
        let config = Config::from_options(json!({"access_token": "pat-1"})).unwrap();
        assert_eq!(config.base_url, "https://api.hubapi.com");
        assert!(config.configured_links.is_none());
        assert!(config.ui_domain_override.is_none());
    }

    #[test]
    fn base_url_trailing_slash_is_dropped() {
        let config = Config::from_options(
            json!({"access_token": "pat-1", "base_url": "http://127.0.0.1:8080/hubspot/"}),
        )
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:8080/hubspot");
    }

    #[test]
    fn base_url_rejects_other_schemes() {
        for value in [
            "ftp://api.hubapi.com",
            "api.hubapi.com",
            "https://api.hubapi.com/?a=1",
            "",
        ] {
            let error = Config::from_options(json!({"access_token": "pat-1", "base_url": value}))
                .unwrap_err();
            assert_eq!(error.key.as_deref(), Some("base_url"), "{value}");
        }
    }

    #[test]
    fn portal_id_as_number_or_digits() {
        for value in [json!(44237313), json!("44237313"), json!(" 44237313 ")] {
            let config =
                Config::from_options(json!({"access_token": "pat-1", "portal_id": value})).unwrap();
            let links = config.configured_links.unwrap();
            assert_eq!(
                links.contact_url("501"),
                "https://app.hubspot.com/contacts/44237313/record/0-1/501"
            );
        }
    }

    #[test]
    fn portal_id_rejects_non_digits() {
        for value in [
            json!(-5),
            json!(1.5),
            json!("44-23"),
            json!(""),
            json!(true),
        ] {
            let error =
                Config::from_options(json!({"access_token": "pat-1", "portal_id": value.clone()}))
                    .unwrap_err();
            assert_eq!(error.key.as_deref(), Some("portal_id"), "{value}");
        }
    }

    #[test]
    fn ui_domain_with_portal_id() {
        let config = Config::from_options(json!({
            "access_token": "pat-1",
            "portal_id": 7,
            "ui_domain": "app-eu1.hubspot.com",
        }))
        .unwrap();
        let links = config.configured_links.unwrap();
        assert_eq!(
            links.contact_url("9"),
            "https://app-eu1.hubspot.com/contacts/7/record/0-1/9"
        );
    }

    #[test]
    fn ui_domain_without_portal_id_overrides_account_info() {
        let config = Config::from_options(
            json!({"access_token": "pat-1", "ui_domain": "app-eu1.hubspot.com"}),
        )
        .unwrap();
        assert!(config.configured_links.is_none());
        assert_eq!(
            config.ui_domain_override.as_deref(),
            Some("app-eu1.hubspot.com")
        );
    }

    #[test]
    fn ui_domain_rejects_url() {
        let error = Config::from_options(json!({
            "access_token": "pat-1",
            "ui_domain": "https://app.hubspot.com/",
        }))
        .unwrap_err();
        assert_eq!(error.key.as_deref(), Some("ui_domain"));
    }

    #[test]
    fn blank_token_is_rejected() {
        let error = Config::from_options(json!({"access_token": "  "})).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("access_token"));
    }
}
