use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use badgegate_adapter::http::{read_json, send};
use badgegate_adapter::oauth::Token;
use badgegate_adapter::phone::stored_matches;
use badgegate_adapter::{
    Adapter, BuildError, Contact, LookupError, PhoneNumber, Query, Region, Secret, SourceContext,
};
use reqwest::header::ACCEPT;
use reqwest::Url;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::Config;
use crate::encoding::query_component;
use crate::request::RenderedRequest;

/// Looks callers up in a JSON API through the request and response mapping
/// of its source table.
///
/// Each lookup sends one request, or one per entry of `forms` until a
/// response contains a record with the caller's number. With an OAuth flow,
/// one access token serves every lookup. When the API rejects it with HTTP
/// 401, the adapter fetches one new token and retries the request once.
/// `Debug` shows no credential.
pub struct RestAdapter {
    name: String,
    http: reqwest::Client,
    timeout: Duration,
    default_region: Region,
    config: Config,
}

impl RestAdapter {
    /// Validates the source's options and builds the adapter without any
    /// network call. The error names the key at fault.
    pub fn from_options(
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<RestAdapter, BuildError> {
        let config = Config::from_options(options, &context.name, &context.http)?;
        Ok(RestAdapter {
            name: context.name,
            http: context.http,
            timeout: context.timeout,
            default_region: context.default_region,
            config,
        })
    }

    /// Sends the request for each spelling in `forms` in turn, and returns
    /// the candidates of the first response that contains a record with the
    /// caller's number, else those of the last response.
    ///
    /// NOTE: the gateway's `rate_limit_per_sec` counts calls of `find`, so
    /// a source with several forms may send that many requests per counted
    /// call.
    async fn search_forms(
        &self,
        query: &Query,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Vec<Contact>, LookupError> {
        let terms = self
            .config
            .request
            .terms(query.caller())
            .map_err(unsent_request)?;
        let last = terms.len() - 1;
        let mut contacts = Vec::new();
        for (position, term) in terms.iter().enumerate() {
            contacts = self
                .search(query, term.as_deref(), deadline, budget)
                .await?;
            if position == last || self.has_match(&contacts, query.caller()) {
                break;
            }
            tracing::debug!(
                source = %self.name,
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                form = position,
                candidates = contacts.len(),
                "no record of this form's response has the caller's number; trying the next form"
            );
        }
        Ok(contacts)
    }

    /// Sends one request with `{term}` bound to `term` and maps its response.
    async fn search(
        &self,
        query: &Query,
        term: Option<&str>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Vec<Contact>, LookupError> {
        let rendered = self
            .config
            .request
            .render(query.caller(), term)
            .map_err(unsent_request)?;
        let Some(body) = self.fetch(query, &rendered, deadline, budget).await? else {
            return Ok(Vec::new());
        };
        self.config
            .response
            .contacts(&body, &self.name)
            .map_err(|error| LookupError::BadResponse(error.to_string()))
    }

    /// Sends the request with the shared access token when the auth is an
    /// OAuth flow. If the API rejects the token with HTTP 401, discards it,
    /// fetches a new one and sends the request once more. Returns `None` for
    /// a status listed in `response.not_found_statuses`.
    async fn fetch(
        &self,
        query: &Query,
        rendered: &RenderedRequest,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Option<Value>, LookupError> {
        let Some(tokens) = self.config.auth.tokens() else {
            return self
                .fetch_once(query, rendered, None, deadline, budget)
                .await;
        };
        let token = tokens.token(time_left(deadline, budget)?).await?;
        match self
            .fetch_once(query, rendered, Some(&token), deadline, budget)
            .await
        {
            Err(LookupError::Auth { status: 401 }) => {}
            result => return result,
        }

        tokens.invalidate(&token);
        tracing::info!(
            source = %self.name,
            request_id = query.request_id(),
            "the API rejected the access token with HTTP 401; fetching a new token and retrying the request once"
        );
        let token = tokens.token(time_left(deadline, budget)?).await?;
        self.fetch_once(query, rendered, Some(&token), deadline, budget)
            .await
    }

    async fn fetch_once(
        &self,
        query: &Query,
        rendered: &RenderedRequest,
        token: Option<&Token>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Option<Value>, LookupError> {
        let mut request = self
            .http
            .request(rendered.method.clone(), &rendered.url)
            .header(ACCEPT, "application/json")
            .headers(rendered.headers.clone());
        if !rendered.query.is_empty() {
            request = request.query(&rendered.query);
        }
        request = self.config.auth.apply(request, token);
        if let Some(body) = &rendered.body {
            request = request.json(body);
        }
        query.record_request(&self.name, || self.describe(rendered));

        let not_found = |status: u16| {
            tracing::debug!(
                source = %self.name,
                request_id = query.request_id(),
                status,
                "the API answered with a status that response.not_found_statuses lists, so there is no record"
            );
            Ok(None)
        };
        let response = match send(request, time_left(deadline, budget)?).await {
            Ok(response) => response,
            Err(error) => match error.status() {
                Some(status) if self.config.response.is_not_found(status) => {
                    return not_found(status)
                }
                _ => return Err(error),
            },
        };
        let status = response.status().as_u16();
        if self.config.response.is_not_found(status) {
            return not_found(status);
        }
        let body: Value = read_json(response, time_left(deadline, budget)?).await?;
        Ok(Some(body))
    }

    /// Describes a request for the lookup trace: method, URL with query,
    /// header names and the JSON body. Every header value and the auth query
    /// parameter show as `[redacted]`.
    fn describe(&self, rendered: &RenderedRequest) -> String {
        let mut url = match Url::parse(&rendered.url) {
            Ok(url) => url,
            Err(_) => return format!("{} {}", rendered.method, rendered.url),
        };
        if !rendered.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&rendered.query);
        }
        let mut text = format!("{} {url}", rendered.method);
        if let Some(name) = self.config.auth.query_name() {
            let separator = if url.query().is_some() { '&' } else { '?' };
            let name = query_component(name);
            text.push_str(&format!("{separator}{name}={}", Secret::REDACTED));
        }

        let mut headers: Vec<String> = rendered
            .headers
            .keys()
            .map(|name| format!("{name}: {}", Secret::REDACTED))
            .collect();
        headers.extend(self.config.auth.describe());
        if !headers.is_empty() {
            text.push_str(&format!(" ({})", headers.join(", ")));
        }
        if let Some(body) = &rendered.body {
            text.push(' ');
            text.push_str(&body.to_string());
        }
        text
    }

    /// Returns whether any candidate stores the caller's number.
    fn has_match(&self, contacts: &[Contact], caller: &PhoneNumber) -> bool {
        contacts.iter().any(|contact| {
            contact
                .phones
                .iter()
                .any(|stored| stored_matches(stored, caller, self.default_region).unwrap_or(false))
        })
    }

    /// Logs a failed lookup. Failures that a retry may fix are warnings, and
    /// credential, request and mapping problems are errors.
    fn log_failure(&self, query: &Query, error: &LookupError) {
        if error.is_retryable() {
            tracing::warn!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                %error,
                "REST source search failed"
            );
        } else {
            tracing::error!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                %error,
                "REST source search failed"
            );
        }
    }
}

#[async_trait]
impl Adapter for RestAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    /// Fetches the access token of an OAuth flow, so that bad credentials
    /// show in the start-up log and the first lookup does not wait for the
    /// token. Other auth types need nothing. A failure is returned for the
    /// gateway to log, and lookups retry it.
    async fn start(&self) -> Result<(), LookupError> {
        if let Some(tokens) = self.config.auth.tokens() {
            tokens.token(self.timeout).await?;
        }
        Ok(())
    }

    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError> {
        // The gateway bounds the call too, but each request gets its own
        // timeout so that none outlives the lookup.
        let budget = query.time_left().min(self.timeout);
        let deadline = Instant::now() + budget;

        let contacts = self
            .search_forms(query, deadline, budget)
            .await
            .inspect_err(|error| self.log_failure(query, error))?;
        tracing::debug!(
            source = %self.name,
            request_id = query.request_id(),
            caller = %query.caller().masked(),
            candidates = contacts.len(),
            "REST source returned candidates"
        );
        Ok(contacts)
    }
}

impl fmt::Debug for RestAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestAdapter")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Converts a request template that cannot be rendered into an error. With
/// validated options this does not happen, because the build checks every
/// template with a sample number and the constants.
fn unsent_request(message: String) -> LookupError {
    LookupError::BadResponse(format!("request not sent, because {message}"))
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
