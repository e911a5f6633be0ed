//! badgegate's Salesforce adapter: finds the records whose phone fields contain
//! the caller's number with one SOSL search per lookup, authenticated through
//! a connected app's OAuth flow.
//!
//! A source of `type = "salesforce"` takes these keys:
//!
//! ```toml
//! [[sources]]
//! name = "salesforce"
//! type = "salesforce"
//! # One of three flows, each from a connected app:
//! auth = { type = "client_credentials", client_id = "${SF_CLIENT_ID}", client_secret = "${SF_CLIENT_SECRET}" }
//! # auth = { type = "jwt_bearer", client_id = "${SF_CLIENT_ID}", username = "integration@acme.com", private_key_path = "salesforce.key" }
//! # auth = { type = "refresh_token", client_id = "${SF_CLIENT_ID}", client_secret = "${SF_CLIENT_SECRET}", refresh_token = "${SF_REFRESH_TOKEN}" }
//! login_url = "https://login.salesforce.com"  # default; a My Domain URL for client_credentials
//! api_version = "v62.0"                       # default
//! objects = ["Contact", "Lead"]               # default; the first object with a match wins
//! # lightning_url = "https://acme.lightning.force.com"  # default: derived from instance_url
//! ```
//!
//! The token comes from `{login_url}/services/oauth2/token`. Its response's
//! `instance_url` is the host the search goes to. One token serves every
//! lookup until Salesforce rejects it (HTTP 401), and then one new token is
//! fetched and the search retried once.
//!
//! The search may return records whose numbers only look alike. The adapter
//! returns them with their numbers as stored, and the gateway keeps only
//! those that match the caller.

mod adapter;
mod auth;
mod config;
mod link;
mod records;
mod sosl;

use std::sync::Arc;

use badgegate_adapter::{Adapter, AdapterFactory, BuildError, SourceContext};

pub use adapter::SalesforceAdapter;

/// Builds [`SalesforceAdapter`]s from `type = "salesforce"` source tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceFactory;

impl AdapterFactory for SalesforceFactory {
    fn type_name(&self) -> &'static str {
        "salesforce"
    }

    /// No limit by default. Salesforce limits API requests per org over a
    /// rolling 24 hours (the allocation depends on edition and licences), not
    /// per second, so no per-second default would keep a config within it.
    /// Set `rate_limit_per_sec` on the source to cap bursts. The gateway's
    /// cache already keeps repeat calls for one number off the API.
    fn default_rate_limit_per_sec(&self) -> Option<u32> {
        None
    }

    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError> {
        Ok(Arc::new(SalesforceAdapter::from_options(context, options)?))
    }
}
