//! HubSpot adapter for badgegate: finds the contacts whose phone or mobile
//! number may be the caller's with one CRM search per lookup
//! (`POST /crm/v3/objects/contacts/search`), authenticated with a private app
//! token.
//!
//! A source of `type = "hubspot"` takes these keys:
//!
//! ```toml
//! [[sources]]
//! name = "hubspot"
//! type = "hubspot"
//! access_token = "${HUBSPOT_TOKEN}"   # required
//! base_url = "https://api.hubapi.com" # default
//! portal_id = 44237313                # optional, for record links
//! ui_domain = "app-eu1.hubspot.com"   # optional, default app.hubspot.com
//! ```
//!
//! The search may return contacts whose numbers only look alike. The adapter
//! returns all of them with their numbers as stored, and the gateway keeps
//! only those that match the caller.

mod adapter;
mod config;
mod link;
mod search;

use std::sync::Arc;

use badgegate_adapter::{Adapter, AdapterFactory, BuildError, SourceContext};

pub use adapter::HubspotAdapter;

/// Builds [`HubspotAdapter`]s from `type = "hubspot"` source tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubspotFactory;

impl AdapterFactory for HubspotFactory {
    fn type_name(&self) -> &'static str {
        "hubspot"
    }

    /// HubSpot's CRM search allows about five requests per second per
    /// account (older documentation says four) and reports no rate-limit
    /// headers, so the default stays at four.
    fn default_rate_limit_per_sec(&self) -> Option<u32> {
        Some(4)
    }

    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError> {
        Ok(Arc::new(HubspotAdapter::from_options(context, options)?))
    }
}
