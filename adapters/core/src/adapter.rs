use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::{Contact, LookupError, Query, Region};

/// A source the gateway looks callers up in.
///
/// The gateway calls [`Adapter::find`] once per lookup that is not answered
/// from its cache, already bounded by the source's timeout and the request's
/// deadline, so an adapter needs no timer of its own. It may be called
/// concurrently from many tasks.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// The source's name from the config file, used in logs and traces.
    fn name(&self) -> &str;

    /// Runs once when the gateway starts serving, before the first lookup:
    /// fetch a token, warm a connection. The default does nothing. An error
    /// is logged and the gateway serves anyway, so `find` must cope with a
    /// start-up that failed.
    async fn start(&self) -> Result<(), LookupError> {
        Ok(())
    }

    /// Searches the source for the caller's number and returns every record
    /// the search produced, or an empty list when there is none.
    ///
    /// Return errors as the matching [`LookupError`] variant: the gateway
    /// decides from it whether a retry may help. Never put a credential or
    /// the upstream's response body into an error.
    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError>;

    /// Digest of the data the adapter read when it was built, such as a
    /// local file's contents. A config reload keeps the gateway's cached
    /// answers only while every source's keys and digest are unchanged, so
    /// an adapter whose results come from data loaded at build time returns
    /// one.
    /// The default, `None`, suits an adapter whose answers come from the
    /// service it calls.
    fn content_digest(&self) -> Option<u64> {
        None
    }
}

/// What the gateway hands an [`AdapterFactory`] besides the adapter's own keys.
#[derive(Clone)]
pub struct SourceContext {
    /// The source's unique name from the config file.
    pub name: String,
    /// The source's `timeout_ms`.
    pub timeout: Duration,
    /// `lookup.default_region`, for numbers stored without a country code.
    pub default_region: Region,
    /// The config file's folder; relative paths in adapter keys resolve here.
    pub config_dir: PathBuf,
    /// A shared HTTP client (see [`crate::http::client`]).
    pub http: reqwest::Client,
}

/// Builds adapters of one `type` from their `[[sources]]` tables.
///
/// A third-party crate implements this and registers it in its own binary;
/// see the gateway's `Registry`.
pub trait AdapterFactory: Send + Sync {
    /// The value of `type` this factory builds, e.g. `"hubspot"`.
    fn type_name(&self) -> &'static str;

    /// The rate limit a source of this type gets when its config sets no
    /// `rate_limit_per_sec`, in calls per second; `None` for no limit. Give
    /// the vendor's documented limit, so that a default config stays under it.
    fn default_rate_limit_per_sec(&self) -> Option<u32> {
        None
    }

    /// Validates the adapter's own keys and builds the adapter. `options` is
    /// the source's table without the keys every source has (`name`, `type`,
    /// `timeout_ms`, `max_retries`, `rate_limit_per_sec`, `circuit`), with `${VAR}` references already replaced. Reads local
    /// files if the adapter needs them, but makes no network call: that
    /// belongs in [`Adapter::start`], because `badgegate check` builds every
    /// adapter too.
    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError>;
}

/// Why an adapter could not be built from its config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", key.as_ref().map(|key| format!("key `{key}`: ")).unwrap_or_default())]
pub struct BuildError {
    /// The adapter key at fault, when there is one.
    pub key: Option<String>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl BuildError {
    pub fn new(message: impl Into<String>) -> Self {
        BuildError {
            key: None,
            message: message.into(),
        }
    }

    pub fn for_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        BuildError {
            key: Some(key.into()),
            message: message.into(),
        }
    }
}

/// Deserializes an adapter's options into its config struct. Declare the
/// struct with `#[serde(deny_unknown_fields)]` so a misspelt key is reported
/// by name with the list of valid keys.
pub fn parse_options<T: DeserializeOwned>(options: serde_json::Value) -> Result<T, BuildError> {
    serde_json::from_value(options).map_err(|error| options_error(&error.to_string()))
}

/// Names the key in serde's unknown-field and missing-field messages, so the
/// gateway can point at its line in the config file.
fn options_error(message: &str) -> BuildError {
    let quoted = |rest: &str| rest.split('`').next().map(str::to_string);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some(key) = quoted(rest) {
            let allowed = rest
                .split_once("expected ")
                .map(|(_, allowed)| allowed)
                .unwrap_or("");
            return BuildError::for_key(key, format!("unknown key; expected {allowed}"));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(key) = quoted(rest) {
            return BuildError::for_key(key, "is required but missing");
        }
    }
    BuildError::new(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Options {
        path: String,
        limit: Option<u32>,
    }

    #[test]
    fn unknown_key_is_named() {
        let error = parse_options::<Options>(serde_json::json!({"pth": "x"})).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("pth"));
        assert!(error.message.contains("`path`"), "{}", error.message);
    }

    #[test]
    fn missing_key_is_named() {
        let error = parse_options::<Options>(serde_json::json!({})).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("path"));
    }

    #[test]
    fn wrong_type_keeps_serde_message() {
        let error = parse_options::<Options>(serde_json::json!({"path": "x", "limit": "many"}))
            .unwrap_err();
        assert_eq!(error.key, None);
        assert!(error.message.contains("invalid type"), "{}", error.message);
    }
}
