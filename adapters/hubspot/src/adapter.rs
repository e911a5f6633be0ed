use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use badgegate_adapter::http::{read_json, send};
use badgegate_adapter::{Adapter, BuildError, Contact, LookupError, Query, SourceContext};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::config::Config;
use crate::link::{fetch_record_links, RecordLinks};
use crate::search::{SearchRequest, SearchResponse, SearchResult};

/// Looks callers up in one HubSpot account's contacts with a single CRM search
/// per lookup.
///
/// Record links come from each result's `url`. For results without one, the
/// link is built from `portal_id` and `ui_domain` in the config, or else from
/// HubSpot's account info, fetched once and kept for the adapter's lifetime.
/// `Debug` shows the access token as `[redacted]`.
pub struct HubspotAdapter {
    name: String,
    http: reqwest::Client,
    timeout: Duration,
    config: Config,
    /// The search endpoint, parsed once.
    search_url: reqwest::Url,
    /// `Bearer <token>`, built once and marked sensitive so it prints as such.
    authorization: reqwest::header::HeaderValue,
    /// Link settings from account info. A failed fetch leaves it empty, so the
    /// next lookup that needs it fetches again.
    account_links: OnceCell<RecordLinks>,
}

impl HubspotAdapter {
    /// Validates the source's options and builds the adapter without any
    /// network call. The error names the key at fault.
    pub fn from_options(
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<HubspotAdapter, BuildError> {
        let config = Config::from_options(options)?;
        let search_url = format!("{}/crm/v3/objects/contacts/search", config.base_url);
        let search_url = reqwest::Url::parse(&search_url).map_err(|error| {
            BuildError::for_key("base_url", format!("gives no valid search URL: {error}"))
        })?;
        let mut authorization = reqwest::header::HeaderValue::try_from(format!(
            "Bearer {}",
            config.access_token.expose()
        ))
        .map_err(|_| {
            BuildError::for_key(
                "access_token",
                "holds characters an HTTP header cannot carry; paste the token again",
            )
        })?;
        authorization.set_sensitive(true);
        Ok(HubspotAdapter {
            search_url,
            authorization,
            name: context.name,
            http: context.http,
            timeout: context.timeout,
            config,
            account_links: OnceCell::new(),
        })
    }

    /// Sends the contact search and reads its response before `deadline`.
    async fn search(
        &self,
        query: &Query,
        deadline: Instant,
        budget: Duration,
    ) -> Result<SearchResponse, LookupError> {
        let body = SearchRequest::for_caller(query.caller()).to_json();
        query.record_request(&self.name, || {
            let json = String::from_utf8_lossy(&body);
            format!(
                "POST {} (Authorization: Bearer [redacted]) {json}",
                self.search_url
            )
        });
        let request = self
            .http
            .post(self.search_url.clone())
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )
            .body(body);
        // NOTE: `send` drops the error body, so a 429's `policyName` (SECONDLY,
        // TEN_SECONDLY_ROLLING or DAILY) is not reported. A DAILY limit looks
        // the same as a short burst.
        let response = send(request, time_left(deadline, budget)?).await?;
        read_json(response, time_left(deadline, budget)?).await
    }

    /// Returns the settings that record links are built from: the configured
    /// ones, or else account info, fetched on first use and then kept.
    async fn record_links(
        &self,
        deadline: Instant,
        budget: Duration,
    ) -> Result<&RecordLinks, LookupError> {
        if let Some(links) = &self.config.configured_links {
            return Ok(links);
        }
        self.account_links
            .get_or_try_init(|| async move {
                let timeout = time_left(deadline, budget)?;
                self.fetch_account_links(timeout).await
            })
            .await
    }

    async fn fetch_account_links(&self, timeout: Duration) -> Result<RecordLinks, LookupError> {
        let result = fetch_record_links(
            &self.http,
            &self.config.base_url,
            &self.config.access_token,
            self.config.ui_domain_override.as_deref(),
            timeout,
        )
        .await;
        match &result {
            Ok(links) => tracing::info!(
                source = %self.name,
                links = ?links,
                "fetched HubSpot account info for record links"
            ),
            Err(error) => self.log_failure("account info request", None, error),
        }
        result
    }

    /// Converts search results into contacts, building a record link for
    /// every result that lacks `url`.
    async fn build_contacts(
        &self,
        results: Vec<SearchResult>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Vec<Contact>, LookupError> {
        let mut contacts = Vec::with_capacity(results.len());
        for result in results {
            // The agent's screen shows the link, so only a web address is
            // taken as it comes. Anything else, such as `javascript:`, is
            // replaced by the record link built from the id.
            let web_url = result.url.as_ref().filter(|url| {
                let lower = url.trim_start().to_ascii_lowercase();
                lower.starts_with("https://") || lower.starts_with("http://")
            });
            let link = match web_url {
                Some(url) => url.clone(),
                None => self
                    .record_links(deadline, budget)
                    .await?
                    .contact_url(&result.id),
            };

            let updated_at = result.parse_updated_at();
            if updated_at.is_none() && result.updated_at.is_some() {
                tracing::warn!(
                    source = %self.name,
                    contact_id = %badgegate_adapter::Printable(&result.id),
                    "ignored an updatedAt that is not an RFC 3339 time"
                );
            }

            contacts.push(result.into_contact(link, updated_at));
        }
        Ok(contacts)
    }

    /// Logs a failed HubSpot request. Failures that a retry may fix are
    /// warnings, and credential, request and response-format problems are
    /// errors.
    fn log_failure(&self, operation: &'static str, query: Option<&Query>, error: &LookupError) {
        let request_id = query.map(Query::request_id);
        let caller = query.map(|query| query.caller().masked());
        if error.is_retryable() {
            tracing::warn!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                request_id,
                caller,
                %error,
                "HubSpot {operation} failed"
            );
        } else {
            tracing::error!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                request_id,
                caller,
                %error,
                "HubSpot {operation} failed"
            );
        }
    }
}

/// Returns the time left until `deadline`, or a timeout error naming the
/// whole `budget` once none is left.
fn time_left(deadline: Instant, budget: Duration) -> Result<Duration, LookupError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(LookupError::Timeout(budget));
    }
    Ok(left)
}

#[async_trait]
impl Adapter for HubspotAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    /// Fetches account info unless `portal_id` is configured, because record
    /// links for results without `url` need it. Fetching here spares the first
    /// lookup the extra request and puts a bad token in the start-up log. A
    /// failure is returned for the gateway to log, and lookups retry it.
    async fn start(&self) -> Result<(), LookupError> {
        if self.config.configured_links.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + self.timeout;
        self.record_links(deadline, self.timeout).await?;
        Ok(())
    }

    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError> {
        // The gateway bounds the call too, but the request gets its own
        // timeout so that it never outlives the lookup.
        let budget = query.time_left().min(self.timeout);
        let deadline = Instant::now() + budget;

        let response = self
            .search(query, deadline, budget)
            .await
            .inspect_err(|error| self.log_failure("contact search", Some(query), error))?;

        let returned = response.results.len();
        if let Some(total) = response.total.filter(|&total| total > returned as u64) {
            tracing::warn!(
                source = %self.name,
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                total,
                returned,
                "HubSpot search matched more contacts than it returned, so only the returned ones are checked"
            );
        }

        let contacts = self
            .build_contacts(response.results, deadline, budget)
            .await?;
        tracing::debug!(
            source = %self.name,
            request_id = query.request_id(),
            caller = %query.caller().masked(),
            returned,
            "HubSpot search returned contacts"
        );
        Ok(contacts)
    }
}

impl fmt::Debug for HubspotAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubspotAdapter")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("config", &self.config)
            .field("account_links", &self.account_links.get())
            .finish_non_exhaustive()
    }
}
