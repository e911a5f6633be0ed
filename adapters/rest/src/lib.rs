//! badgegate's generic REST adapter: looks callers up in any JSON API
//! through a request and a response mapping written in the config file, so
//! a CRM without an adapter of its own needs no code.
//!
//! A source of `type = "rest"` takes these keys:
//!
//! ```toml
//! [[sources]]
//! name = "crm"
//! type = "rest"
//! base_url = "https://api.example.com"         # required; `path` is appended
//! method = "GET"                               # or "POST"
//! path = "/v1/contacts/search"                 # placeholders are percent-encoded
//! query = { phone = "{e164}", limit = 20 }     # values are templates
//! headers = { "X-Api-Version" = "2" }          # values are templates
//! # body = { filter = { phone = "{e164}" } }   # POST only; strings are templates
//! # forms = ["{e164}", "{national_digits}"]    # spellings bound to {term}, tried in turn
//! constants = { company = "acme" }             # fixed values templates use by name
//! auth = { type = "bearer", token = "${CRM_TOKEN}" }
//!
//! [sources.response]
//! records = "$.data[*]"                        # JSONPath (RFC 9535) to the records
//! name = "{first_name} {last_name}"            # JSONPath or template over a record
//! link = "https://{company}.example.com/contacts/{id}"
//! email = "$.email"                            # optional
//! id = "$.id"                                  # optional; default the record's position
//! updated_at = "$.updated_at"                  # optional; RFC 3339 or Unix seconds
//! phones = ["$.phone", "$.mobile"]             # JSONPaths to the record's numbers
//! not_found_statuses = [404, 204]              # default
//! ```
//!
//! The caller's number goes into templates as `{e164}` (`+14155550123`),
//! `{e164_digits}` (`14155550123`), `{national}` (`(415) 555-0123`),
//! `{national_digits}` (`4155550123`) or `{international}`
//! (`+1 415-555-0123`). Each value is encoded for where it goes, so that no
//! value can add a path segment, a query parameter, a header or JSON.
//!
//! `auth.type` is one of `none`, `bearer`, `basic`, `header`, `query`,
//! `oauth2_client_credentials` or `oauth2_refresh_token`; see the README's
//! "Add a CRM" section for their keys.
//!
//! The adapter returns every record of the response with its numbers as
//! stored, and the gateway keeps only those that match the caller.

mod adapter;
mod auth;
mod config;
mod encoding;
mod path;
mod request;
mod response;
mod template;

use std::sync::Arc;

use badgegate_adapter::{Adapter, AdapterFactory, BuildError, SourceContext};

pub use adapter::RestAdapter;

/// Builds [`RestAdapter`]s from `type = "rest"` source tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestFactory;

impl AdapterFactory for RestFactory {
    fn type_name(&self) -> &'static str {
        "rest"
    }

    /// No limit by default, because the API behind a REST source is not
    /// known. Set `rate_limit_per_sec` on the source to the API's limit.
    fn default_rate_limit_per_sec(&self) -> Option<u32> {
        None
    }

    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError> {
        Ok(Arc::new(RestAdapter::from_options(context, options)?))
    }
}
