//! The org's hosts: the API host from the token's `instance_url`, and the
//! Lightning Experience host that record links open.

use badgegate_adapter::oauth::Token;
use badgegate_adapter::LookupError;
use reqwest::Url;

/// Suffix of an org's My Domain API host, such as `acme.my.salesforce.com`.
const MY_DOMAIN_SUFFIX: &str = ".my.salesforce.com";

/// Suffix of the matching Lightning Experience host, such as
/// `acme.lightning.force.com`.
const LIGHTNING_SUFFIX: &str = ".lightning.force.com";

/// Returns the token response's `instance_url`, the root of the org's REST
/// API, without a trailing slash. It must be an http(s) URL with a host.
pub(crate) fn instance_url(token: &Token) -> Result<String, LookupError> {
    let invalid =
        || LookupError::BadResponse("token response has no valid instance_url".to_string());
    let text = token.extra_str("instance_url").ok_or_else(invalid)?;
    let url = Url::parse(text.trim()).map_err(|_| invalid())?;
    let is_http = url.scheme() == "https" || url.scheme() == "http";
    if !is_http || url.host_str().is_none() || url.query().is_some() {
        return Err(invalid());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Derives the Lightning Experience URL from an org's `instance_url` by
/// replacing `.my.salesforce.com` with `.lightning.force.com`:
/// `https://acme.my.salesforce.com` becomes
/// `https://acme.lightning.force.com`, and the sandbox host
/// `acme--dev.sandbox.my.salesforce.com` becomes
/// `acme--dev.sandbox.lightning.force.com`. Returns `None` for a host
/// without that suffix.
// NOTE: other Salesforce clouds (such as government clouds on other
// domains) have other Lightning hosts; they need `lightning_url` set.
pub(crate) fn derive_lightning_url(instance_url: &str) -> Option<String> {
    let url = Url::parse(instance_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let org = host.strip_suffix(MY_DOMAIN_SUFFIX)?;
    if org.is_empty() {
        return None;
    }
    Some(format!("{}://{org}{LIGHTNING_SUFFIX}", url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use badgegate_adapter::Secret;
    use serde_json::json;

    fn token(instance_url: serde_json::Value) -> Token {
        Token::new(Secret::new("t")).with_extra("instance_url", instance_url)
    }

    #[test]
    fn production_my_domain() {
        assert_eq!(
            derive_lightning_url("https://acme.my.salesforce.com").as_deref(),
            Some("https://acme.lightning.force.com")
        );
    }

    #[test]
    fn sandbox_my_domain() {
        assert_eq!(
            derive_lightning_url("https://acme--dev.sandbox.my.salesforce.com").as_deref(),
            Some("https://acme--dev.sandbox.lightning.force.com")
        );
    }

    #[test]
    fn other_hosts_are_not_derived() {
        for url in [
            "https://na1.salesforce.com",
            "https://my.salesforce.com",
            "https://acme.my.salesforce.com.evil.test",
            "http://127.0.0.1:8080",
        ] {
            assert_eq!(derive_lightning_url(url), None, "{url}");
        }
    }

    #[test]
    fn instance_url_is_read() {
        let url = instance_url(&token(json!("https://acme.my.salesforce.com/"))).unwrap();
        assert_eq!(url, "https://acme.my.salesforce.com");
    }

    #[test]
    fn instance_url_invalid_is_bad_response() {
        for value in [
            json!(null),
            json!(5),
            json!("acme.my.salesforce.com"),
            json!("ftp://x"),
        ] {
            let error = instance_url(&token(value.clone())).unwrap_err();
            assert!(matches!(error, LookupError::BadResponse(_)), "{value}");
        }
        let error = instance_url(&Token::new(Secret::new("t"))).unwrap_err();
        assert!(matches!(error, LookupError::BadResponse(_)));
    }
}
