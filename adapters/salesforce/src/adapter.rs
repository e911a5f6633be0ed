use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use badgegate_adapter::http::{check_status, read_json};
use badgegate_adapter::oauth::{Token, TokenCache};
use badgegate_adapter::{Adapter, BuildError, Contact, LookupError, Query, Region, SourceContext};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tokio::time::Instant;

use crate::auth::Auth;
use crate::config::Config;
use crate::link::{derive_lightning_url, instance_url};
use crate::records::{prefer_first_object, SearchRecord, SearchResponse};
use crate::sosl::{build_search, search_terms};

/// Salesforce's `errorCode` when the org's daily API request allocation is
/// used up.
const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";

/// Minimum time between two warnings that the daily API limit is exceeded.
const REQUEST_LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Maximum number of bytes of an error response read to find its `errorCode`.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// Response header in which Salesforce reports the org's API usage, such as
/// `api-usage=18/5000`.
const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// Looks callers up in one Salesforce org with a single SOSL search per
/// lookup, over the phone fields of the configured objects.
///
/// One OAuth access token serves every lookup. When Salesforce rejects it
/// (HTTP 401, usually `INVALID_SESSION_ID` after the session timed out), the
/// adapter fetches one new token and retries the search once. `Debug` shows
/// no credential.
pub struct SalesforceAdapter {
    name: String,
    http: reqwest::Client,
    timeout: Duration,
    default_region: Region,
    /// The configured OAuth flow, for `Debug`.
    flow: &'static str,
    login_url: String,
    api_version: String,
    objects: Vec<String>,
    /// The configured `lightning_url`, which replaces the derived one.
    lightning_url: Option<String>,
    tokens: TokenCache,
    request_limit_warnings: Mutex<WarningThrottle>,
    /// Whether the note that links fall back to `instance_url` was logged.
    lightning_fallback_logged: AtomicBool,
}

/// When the last request-limit warning was logged, and how many were
/// suppressed since.
#[derive(Debug, Default)]
struct WarningThrottle {
    last_warned: Option<Instant>,
    suppressed: u64,
}

impl SalesforceAdapter {
    /// Validates the source's options, reads the JWT private key if the flow
    /// needs one, and builds the adapter without any network call. The error
    /// names the key at fault.
    pub fn from_options(
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<SalesforceAdapter, BuildError> {
        let config = Config::from_options(options, &context.config_dir)?;
        let flow = match &config.auth {
            Auth::ClientCredentials { .. } => "client_credentials",
            Auth::JwtBearer { .. } => "jwt_bearer",
            Auth::RefreshToken { .. } => "refresh_token",
        };
        let tokens =
            config
                .auth
                .into_token_cache(&context.name, context.http.clone(), &config.login_url);
        Ok(SalesforceAdapter {
            name: context.name,
            http: context.http,
            timeout: context.timeout,
            default_region: context.default_region,
            flow,
            login_url: config.login_url,
            api_version: config.api_version,
            objects: config.objects,
            lightning_url: config.lightning_url,
            tokens,
            request_limit_warnings: Mutex::new(WarningThrottle::default()),
            lightning_fallback_logged: AtomicBool::new(false),
        })
    }

    /// Returns the shared access token, fetching one if needed. A failed
    /// token request is logged by the token cache.
    async fn token(&self, deadline: Instant, budget: Duration) -> Result<Arc<Token>, LookupError> {
        let timeout = time_left(deadline, budget)?;
        Ok(self.tokens.token(timeout).await?)
    }

    /// Runs the search with the shared token. If Salesforce rejects the
    /// token with HTTP 401, discards it, fetches a new one and retries once.
    /// Returns the response and the `instance_url` it came from.
    async fn search_with_valid_session(
        &self,
        sosl: &str,
        query: &Query,
        deadline: Instant,
        budget: Duration,
    ) -> Result<(SearchResponse, String), LookupError> {
        let token = self.token(deadline, budget).await?;
        match self.search(&token, sosl, query, deadline, budget).await {
            Err(LookupError::Auth { status: 401 }) => {}
            result => return result,
        }

        self.tokens.invalidate(&token);
        tracing::info!(
            source = %self.name,
            request_id = query.request_id(),
            "Salesforce rejected the access token with HTTP 401; fetching a new token and retrying the search once"
        );
        let token = self.token(deadline, budget).await?;
        let result = self.search(&token, sosl, query, deadline, budget).await;
        if let Err(error @ LookupError::Auth { status: 401 }) = &result {
            tracing::error!(
                source = %self.name,
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                %error,
                "Salesforce rejected a newly fetched access token too; check the connected app's \
                 OAuth policies and that the user may use the API"
            );
        }
        result
    }

    /// Sends the SOSL search with `token` and reads its response before
    /// `deadline`. Every failure except a 401 is logged here.
    async fn search(
        &self,
        token: &Token,
        sosl: &str,
        query: &Query,
        deadline: Instant,
        budget: Duration,
    ) -> Result<(SearchResponse, String), LookupError> {
        let log = |error: &LookupError| self.log_failure(query, error, None);

        let instance_url = instance_url(token).inspect_err(log)?;
        let url = format!("{instance_url}/services/data/{}/search/", self.api_version);
        let timeout = time_left(deadline, budget)?;
        let response = self
            .http
            .get(url)
            .query(&[("q", sosl)])
            .bearer_auth(token.access_token().expose())
            .timeout(timeout)
            .send()
            .await
            .map_err(|error| transport_error(error, timeout))
            .inspect_err(log)?;
        self.log_api_usage(response.headers());

        let status = response.status();
        if matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            let timeout = deadline.saturating_duration_since(Instant::now());
            let error_code = read_error_code(response, timeout).await;
            return Err(self.rejection(status, error_code.as_deref(), query));
        }

        let response = check_status(response).inspect_err(log)?;
        let body: SearchResponse = read_json(response, time_left(deadline, budget)?)
            .await
            .inspect_err(log)?;
        Ok((body, instance_url))
    }

    /// Maps a 400, 401 or 403 with Salesforce's `errorCode` to its error and
    /// logs it, except a 401, which the caller handles.
    fn rejection(
        &self,
        status: StatusCode,
        error_code: Option<&str>,
        query: &Query,
    ) -> LookupError {
        match status {
            StatusCode::UNAUTHORIZED => LookupError::Auth { status: 401 },
            StatusCode::FORBIDDEN if error_code == Some(REQUEST_LIMIT_EXCEEDED) => {
                self.log_request_limit(query);
                LookupError::RateLimited { retry_after: None }
            }
            StatusCode::FORBIDDEN => {
                let error = LookupError::Auth { status: 403 };
                self.log_failure(query, &error, error_code);
                error
            }
            _ => {
                let error = LookupError::Rejected {
                    status: status.as_u16(),
                };
                self.log_failure(query, &error, error_code);
                error
            }
        }
    }

    /// Returns the root of record links: the configured `lightning_url`, or
    /// one derived from `instance_url`, or `instance_url` itself, which
    /// Salesforce redirects to Lightning Experience.
    fn lightning_url(&self, instance_url: &str) -> String {
        if let Some(url) = &self.lightning_url {
            return url.clone();
        }
        if let Some(url) = derive_lightning_url(instance_url) {
            return url;
        }
        if !self.lightning_fallback_logged.swap(true, Ordering::Relaxed) {
            tracing::info!(
                source = %self.name,
                instance_url,
                "instance_url is not a My Domain host (*.my.salesforce.com), so record links \
                 start with instance_url; set lightning_url to link to Lightning Experience directly"
            );
        }
        instance_url.to_string()
    }

    /// Converts the records that are kept into contacts, skipping records
    /// whose id or object name cannot go into a link.
    fn build_contacts(&self, records: Vec<SearchRecord>, lightning_url: &str) -> Vec<Contact> {
        let mut contacts = Vec::with_capacity(records.len());
        for record in records {
            if !record.has_valid_id() {
                tracing::warn!(
                    source = %self.name,
                    "skipped a Salesforce record whose Id or object name is not alphanumeric"
                );
                continue;
            }
            let updated_at = record.parse_last_modified();
            if updated_at.is_none() {
                tracing::warn!(
                    source = %self.name,
                    record_id = %badgegate_adapter::Printable(&record.id),
                    "ignored a missing or unreadable LastModifiedDate"
                );
            }
            contacts.push(record.into_contact(lightning_url, updated_at));
        }
        contacts
    }

    /// Logs the org's API usage from `Sforce-Limit-Info` at debug level.
    fn log_api_usage(&self, headers: &HeaderMap) {
        let usage = headers
            .get(LIMIT_INFO_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_api_usage);
        if let Some((used, limit)) = usage {
            tracing::debug!(
                source = %self.name,
                api_requests_used = used,
                api_requests_limit = limit,
                "Salesforce reported the org's API request usage"
            );
        }
    }

    /// Warns that the daily API limit is exceeded, at most once per
    /// [`REQUEST_LIMIT_WARNING_INTERVAL`], with the number of occurrences
    /// since the previous warning. Other occurrences are logged at debug level.
    fn log_request_limit(&self, query: &Query) {
        let suppressed = {
            let mut throttle = self
                .request_limit_warnings
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let recently_warned = throttle.last_warned.is_some_and(|last| {
                now.saturating_duration_since(last) < REQUEST_LIMIT_WARNING_INTERVAL
            });
            if recently_warned {
                throttle.suppressed += 1;
                None
            } else {
                throttle.last_warned = Some(now);
                Some(std::mem::take(&mut throttle.suppressed))
            }
        };
        match suppressed {
            Some(suppressed) => tracing::warn!(
                source = %self.name,
                request_id = query.request_id(),
                status = 403,
                error_code = REQUEST_LIMIT_EXCEEDED,
                suppressed_since_last_warning = suppressed,
                "Salesforce's daily API request limit is exceeded, so searches fail until the \
                 org's 24-hour allocation frees up; this warning repeats at most once a minute"
            ),
            None => tracing::debug!(
                source = %self.name,
                request_id = query.request_id(),
                "Salesforce's daily API request limit is still exceeded"
            ),
        }
    }

    /// Logs a failed search. Failures that a retry may fix are warnings, and
    /// credential, request and response-format problems are errors.
    /// `error_code` is Salesforce's `errorCode`, such as `INVALID_FIELD`.
    fn log_failure(&self, query: &Query, error: &LookupError, error_code: Option<&str>) {
        if error.is_retryable() {
            tracing::warn!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                error_code,
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                %error,
                "Salesforce search failed"
            );
        } else {
            tracing::error!(
                source = %self.name,
                status = error.status(),
                kind = error.kind(),
                error_code,
                request_id = query.request_id(),
                caller = %query.caller().masked(),
                %error,
                "Salesforce search failed"
            );
        }
    }
}

#[async_trait]
impl Adapter for SalesforceAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    /// Fetches the access token, so that bad credentials show in the
    /// start-up log and the first lookup does not wait for the token. A
    /// failure is returned for the gateway to log, and lookups retry it.
    async fn start(&self) -> Result<(), LookupError> {
        let token = self.tokens.token(self.timeout).await?;
        let instance_url = instance_url(&token).inspect_err(|error| {
            tracing::error!(source = %self.name, %error, "Salesforce token response is unusable");
        })?;
        tracing::info!(
            source = %self.name,
            instance_url,
            lightning_url = self.lightning_url(&instance_url),
            "connected to Salesforce"
        );
        Ok(())
    }

    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError> {
        // The gateway bounds the call too, but each request gets its own
        // timeout so that none outlives the lookup.
        let budget = query.time_left().min(self.timeout);
        let deadline = Instant::now() + budget;

        let sosl = build_search(&search_terms(query.caller()), &self.objects);
        let (response, instance_url) = self
            .search_with_valid_session(&sosl, query, deadline, budget)
            .await?;

        let record_count = response.search_records.len();
        let records = prefer_first_object(
            response.search_records,
            &self.objects,
            query.caller(),
            self.default_region,
        );
        let contacts = self.build_contacts(records, &self.lightning_url(&instance_url));
        tracing::debug!(
            source = %self.name,
            request_id = query.request_id(),
            caller = %query.caller().masked(),
            records = record_count,
            contacts = contacts.len(),
            "Salesforce search returned records"
        );
        Ok(contacts)
    }
}

impl fmt::Debug for SalesforceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceAdapter")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("flow", &self.flow)
            .field("login_url", &self.login_url)
            .field("api_version", &self.api_version)
            .field("objects", &self.objects)
            .field("lightning_url", &self.lightning_url)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
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

/// Maps a failed send to a [`LookupError`] as
/// [`badgegate_adapter::http::send`] does. The URL, which carries the search
/// and so the caller's number, is dropped before the error becomes text.
fn transport_error(error: reqwest::Error, timeout: Duration) -> LookupError {
    if error.is_timeout() {
        return LookupError::Timeout(timeout);
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    LookupError::Connect(text)
}

/// Reads the `errorCode` of Salesforce's error response,
/// `[{"message": "...", "errorCode": "INVALID_SESSION_ID"}]`, within
/// `timeout`. Returns `None` for a body that is not of that shape, or whose
/// code is not an upper-case identifier, so the body itself is never logged.
async fn read_error_code(mut response: Response, timeout: Duration) -> Option<String> {
    let read = async move {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ERROR_BODY_BYTES {
                return None;
            }
        }
        Some(body)
    };
    let body = tokio::time::timeout(timeout, read).await.ok().flatten()?;
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let first = match &value {
        serde_json::Value::Array(errors) => errors.first()?,
        other => other,
    };
    let code = first.get("errorCode")?.as_str()?;
    let is_code = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    is_code.then(|| code.to_string())
}

/// Reads `api-usage=USED/LIMIT` from a `Sforce-Limit-Info` value, which may
/// list other usages too, separated by commas.
fn parse_api_usage(value: &str) -> Option<(u64, u64)> {
    let usage = value
        .split(',')
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_usage_is_parsed() {
        assert_eq!(parse_api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            parse_api_usage("api-usage=25/5000, per-app-api-usage=17/250(appName=sample)"),
            Some((25, 5000))
        );
        assert_eq!(parse_api_usage("per-app-api-usage=17/250"), None);
        assert_eq!(parse_api_usage("api-usage=lots"), None);
    }
}
