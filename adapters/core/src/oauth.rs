//! OAuth 2.0 access tokens for adapters whose API takes a bearer token from a
//! token endpoint (RFC 6749).
//!
//! A [`TokenCache`] keeps one token per source and shares it between all
//! lookups. It requests a new one from a [`TokenSource`] when it has none, when
//! the token is about to expire, or after [`TokenCache::invalidate`]. The common
//! token request, a form-encoded POST with fixed fields, is [`FormTokenSource`];
//! an adapter whose request changes every time (a signed JWT assertion)
//! implements [`TokenSource`] itself around [`post_token_form`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::http::{check_status, read_json};
use crate::{LookupError, Secret};

/// How long before its expiry a token is replaced, at most. A token that
/// lives less than twice this long is replaced at half its lifetime.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Maximum number of bytes of an error response read to find the OAuth error.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// Longest `error_description` kept in an error, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Longest word of a kept `error_description`, in characters. Client
/// secrets, refresh tokens and JWT assertions are longer than this.
const MAX_DESCRIPTION_WORD_CHARS: usize = 24;

/// Shortest form value that a kept `error_description` is checked against.
const MIN_CHECKED_VALUE_CHARS: usize = 6;

/// Longest OAuth error code accepted, in characters.
const MAX_ERROR_CODE_CHARS: usize = 64;

/// An access token and the other fields of the token response that carried it.
///
/// `Debug` shows the access token as `[redacted]` and only the names of the
/// other fields, because some of them (`refresh_token`, `id_token`) are
/// credentials too.
#[derive(Clone)]
pub struct Token {
    access_token: Secret,
    token_type: Option<String>,
    expires_in: Option<Duration>,
    extra: Map<String, Value>,
}

impl Token {
    /// Creates a token without expiry, type or other fields.
    pub fn new(access_token: Secret) -> Self {
        Token {
            access_token,
            token_type: None,
            expires_in: None,
            extra: Map::new(),
        }
    }

    /// Sets the lifetime the token endpoint gave in `expires_in`.
    pub fn with_expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = Some(expires_in);
        self
    }

    /// Adds a field of the token response besides the standard ones.
    pub fn with_extra(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// Returns the value to send as `Authorization: Bearer`.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// Returns `token_type` as the token endpoint sent it, usually `Bearer`.
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// Returns the lifetime from `expires_in`, or `None` when the response had
    /// none.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// Returns a field of the token response other than `access_token`,
    /// `token_type` and `expires_in`, such as Salesforce's `instance_url`.
    pub fn extra(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// Returns a field of the token response as a string, or `None` when it
    /// is missing or not a string.
    pub fn extra_str(&self, name: &str) -> Option<&str> {
        self.extra.get(name).and_then(Value::as_str)
    }

    fn from_response(response: TokenResponse) -> Result<Token, LookupError> {
        let access_token = match response.access_token {
            Some(token) if !token.trim().is_empty() => Secret::new(token),
            _ => {
                return Err(LookupError::BadResponse(
                    "token response has no access_token".to_string(),
                ))
            }
        };
        let expires_in = match response.expires_in {
            None | Some(Value::Null) => None,
            Some(value) => Some(parse_expires_in(&value).ok_or_else(|| {
                LookupError::BadResponse(
                    "token response has an expires_in that is not a number of seconds".to_string(),
                )
            })?),
        };
        Ok(Token {
            access_token,
            token_type: response.token_type,
            expires_in,
            extra: response.extra,
        })
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra_names: Vec<&str> = self.extra.keys().map(String::as_str).collect();
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("extra_names", &extra_names)
            .finish()
    }
}

/// A successful token response (RFC 6749 section 5.1). `access_token` is
/// optional here so that a missing one gets a clear message.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Reads `expires_in` as whole seconds, from a number or a string of digits,
/// because some token endpoints send it as a string.
fn parse_expires_in(value: &Value) -> Option<Duration> {
    match value {
        Value::Number(number) => {
            if let Some(seconds) = number.as_u64() {
                return Some(Duration::from_secs(seconds));
            }
            let seconds = number.as_f64()?;
            (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs(seconds as u64))
        }
        Value::String(text) => text.trim().parse::<u64>().ok().map(Duration::from_secs),
        _ => None,
    }
}

/// An error from obtaining an access token.
///
/// Messages contain the HTTP status and the OAuth error code, never a form
/// value that was sent, so they are safe to log as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint rejected the request with an OAuth error response
    /// (RFC 6749 section 5.2), such as `invalid_client` or `invalid_grant`.
    #[error("token request rejected with HTTP {status} and OAuth error `{code}`{}", description_text(.description))]
    Rejected {
        status: u16,
        /// The `error` field, such as `invalid_client`.
        code: String,
        /// The `error_description` field, kept only when it passes the checks
        /// of [`post_token_form`] against quoting a credential.
        description: Option<String>,
    },
    /// The token request failed without an OAuth error response: a timeout,
    /// a connection error, a 5xx, or a response that cannot be read.
    #[error("token request failed: {0}")]
    Failed(LookupError),
}

fn description_text(description: &Option<String>) -> String {
    match description {
        Some(description) => format!(": {description}"),
        None => String::new(),
    }
}

impl TokenError {
    /// Returns the OAuth error code, when the token endpoint sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            TokenError::Rejected { code, .. } => Some(code),
            TokenError::Failed(_) => None,
        }
    }

    /// Returns the HTTP status of the token endpoint's response, when there
    /// was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TokenError::Rejected { status, .. } => Some(*status),
            TokenError::Failed(error) => error.status(),
        }
    }
}

impl From<TokenError> for LookupError {
    /// Converts a rejected token request into an authentication failure with
    /// the token endpoint's status, which the gateway does not retry. Other
    /// failures keep their own error, so a timeout or a 5xx stays retryable.
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Rejected { status, .. } => LookupError::Auth { status },
            TokenError::Failed(error) => error,
        }
    }
}

/// The provider of new access tokens for a [`TokenCache`].
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// Requests a new access token from the token endpoint within `timeout`.
    async fn request_token(&self, timeout: Duration) -> Result<Token, TokenError>;
}

/// A token request with fixed form fields, for grants whose request never
/// changes: client credentials and refresh token (RFC 6749 sections 4.4 and
/// 6). `Debug` shows secret fields as `[redacted]`.
#[derive(Clone)]
pub struct FormTokenSource {
    http: reqwest::Client,
    token_url: String,
    fields: Vec<(String, FormValue)>,
}

#[derive(Clone)]
enum FormValue {
    Plain(String),
    Secret(Secret),
}

impl FormValue {
    fn expose(&self) -> &str {
        match self {
            FormValue::Plain(value) => value,
            FormValue::Secret(secret) => secret.expose(),
        }
    }
}

impl FormTokenSource {
    /// Creates a request to `token_url` without form fields.
    pub fn new(http: reqwest::Client, token_url: impl Into<String>) -> Self {
        FormTokenSource {
            http,
            token_url: token_url.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a form field that may appear in `Debug` output, such as
    /// `grant_type` or `client_id`.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields
            .push((name.into(), FormValue::Plain(value.into())));
        self
    }

    /// Adds a form field whose value is a credential, such as
    /// `client_secret` or `refresh_token`.
    pub fn secret_field(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.fields.push((name.into(), FormValue::Secret(value)));
        self
    }
}

#[async_trait]
impl TokenSource for FormTokenSource {
    async fn request_token(&self, timeout: Duration) -> Result<Token, TokenError> {
        let form: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
            .collect();
        post_token_form(&self.http, &self.token_url, &form, timeout).await
    }
}

impl fmt::Debug for FormTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(name, value)| match value {
                FormValue::Plain(value) => (name.as_str(), value.as_str()),
                FormValue::Secret(_) => (name.as_str(), Secret::REDACTED),
            })
            .collect();
        f.debug_struct("FormTokenSource")
            .field("token_url", &self.token_url)
            .field("fields", &fields)
            .finish_non_exhaustive()
    }
}

/// Sends a token request as a form-encoded POST to `token_url` and reads the
/// token from the response, all within `timeout`.
///
/// A 2xx response must be JSON with a non-empty `access_token`. `token_type`
/// and `expires_in` (seconds, as a number or a string of digits) are
/// optional, and every other field is kept for [`Token::extra`].
///
/// A 400 or 401 whose body is an OAuth error response becomes
/// [`TokenError::Rejected`] with the `error` code. Its `error_description` is
/// kept only if it passes three checks. It is at most 200 characters without
/// control characters. No word in it is longer than 24 characters. It
/// contains no value of `form` of 6 characters or more, except `grant_type`'s.
/// Token endpoints sometimes quote the request in the description, so these
/// checks keep a client secret, refresh token or assertion out of the error
/// even when the endpoint echoes part of it. Every other failure becomes
/// [`TokenError::Failed`] with the error that [`crate::http`] gives.
pub async fn post_token_form(
    http: &reqwest::Client,
    token_url: &str,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Result<Token, TokenError> {
    let started = Instant::now();
    let response = http
        .post(token_url)
        .header(ACCEPT, "application/json")
        .form(form)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| TokenError::Failed(transport_error(error, timeout)))?;

    let status = response.status();
    if status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED {
        let body = read_error_body(response, timeout.saturating_sub(started.elapsed())).await;
        return Err(rejection(status, body.as_deref(), form));
    }

    let response = check_status(response).map_err(TokenError::Failed)?;
    let body: TokenResponse = read_json(response, timeout.saturating_sub(started.elapsed()))
        .await
        .map_err(TokenError::Failed)?;
    Token::from_response(body).map_err(TokenError::Failed)
}

/// Builds the error for a 400 or 401 from the token endpoint, using the
/// OAuth error in `body` when there is one.
fn rejection(status: StatusCode, body: Option<&[u8]>, form: &[(&str, &str)]) -> TokenError {
    #[derive(Deserialize)]
    struct OAuthErrorBody {
        error: Value,
        #[serde(default)]
        error_description: Value,
    }

    let parsed = body.and_then(|body| serde_json::from_slice::<OAuthErrorBody>(body).ok());
    let code = parsed
        .as_ref()
        .and_then(|parsed| parsed.error.as_str())
        .filter(|code| is_error_code(code));
    match (code, parsed.as_ref()) {
        (Some(code), Some(parsed)) => TokenError::Rejected {
            status: status.as_u16(),
            code: code.to_string(),
            description: parsed
                .error_description
                .as_str()
                .and_then(|text| safe_description(text, form)),
        },
        _ if status == StatusCode::UNAUTHORIZED => TokenError::Failed(LookupError::Auth {
            status: status.as_u16(),
        }),
        _ => TokenError::Failed(LookupError::Rejected {
            status: status.as_u16(),
        }),
    }
}

/// Returns whether `code` has the shape of an OAuth error code such as
/// `invalid_client`, so that a body that quotes something else in `error` is
/// not taken for one.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_ERROR_CODE_CHARS
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Returns the trimmed `error_description` if it passes the checks that
/// [`post_token_form`] documents, or `None`.
fn safe_description(text: &str, form: &[(&str, &str)]) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_DESCRIPTION_CHARS {
        return None;
    }
    if text.chars().any(char::is_control) {
        return None;
    }
    if text
        .split_whitespace()
        .any(|word| word.chars().count() > MAX_DESCRIPTION_WORD_CHARS)
    {
        return None;
    }
    let quotes_form_value = form.iter().any(|(name, value)| {
        *name != "grant_type"
            && value.chars().count() >= MIN_CHECKED_VALUE_CHARS
            && text.contains(value)
    });
    if quotes_form_value {
        return None;
    }
    Some(text.to_string())
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of an error response within
/// `timeout`. Returns `None` when the body cannot be read in time.
async fn read_error_body(mut response: Response, timeout: Duration) -> Option<Vec<u8>> {
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
    tokio::time::timeout(timeout, read).await.ok().flatten()
}

/// Maps a failed send to a [`LookupError`] as [`crate::http::send`] does. The
/// URL is dropped before the error becomes text.
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

/// One access token shared by all lookups of a source.
///
/// [`TokenCache::token`] returns the cached token while it is valid. When
/// there is none, callers wait for a single request to the [`TokenSource`]
/// and share its outcome, token or error, so a burst of lookups makes one
/// token request. A token with `expires_in` is replaced a little before it
/// expires (60 s, or half its lifetime if that is shorter). A token without
/// it is kept until [`TokenCache::invalidate`] discards it.
pub struct TokenCache {
    source_name: String,
    token_source: Box<dyn TokenSource>,
    state: Mutex<CacheState>,
    /// Held while a token request is in flight, so that only one is.
    request_lock: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct CacheState {
    token: Option<CachedToken>,
    /// Number of token requests that completed, with a token or an error.
    completed_requests: u64,
    /// The error of the last completed request, if it failed.
    last_error: Option<TokenError>,
}

struct CachedToken {
    token: Arc<Token>,
    /// When a new token is requested instead of returning this one.
    refresh_at: Option<Instant>,
    /// When this token expires, from `expires_in`.
    expires_at: Option<Instant>,
}

impl CachedToken {
    fn new(token: Arc<Token>, requested_at: Instant) -> Self {
        let lifetime = token.expires_in();
        CachedToken {
            refresh_at: lifetime
                .map(|lifetime| requested_at + lifetime - REFRESH_AHEAD.min(lifetime / 2)),
            expires_at: lifetime.map(|lifetime| requested_at + lifetime),
            token,
        }
    }

    fn is_fresh(&self, now: Instant) -> bool {
        self.refresh_at.is_none_or(|refresh_at| now < refresh_at)
    }

    fn is_unexpired(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

impl TokenCache {
    /// Creates an empty cache. `source_name` is the source's name from the
    /// config file, for log lines.
    pub fn new(source_name: impl Into<String>, token_source: impl TokenSource + 'static) -> Self {
        TokenCache {
            source_name: source_name.into(),
            token_source: Box::new(token_source),
            state: Mutex::new(CacheState::default()),
            request_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns the cached token, or requests a new one when there is none or
    /// it is due for replacement, all within `timeout`.
    ///
    /// A caller that waited while another caller's request failed gets that
    /// error instead of sending a request of its own. When replacing a token
    /// ahead of its expiry fails, the old token is returned while it is
    /// still unexpired. Every failed request is logged at error level with
    /// the source's name and the OAuth error code.
    pub async fn token(&self, timeout: Duration) -> Result<Arc<Token>, TokenError> {
        let started = Instant::now();
        let completed_before_wait = {
            let state = self.lock_state();
            if let Some(token) = state.fresh_token(started) {
                return Ok(token);
            }
            state.completed_requests
        };

        let timed_out = || TokenError::Failed(LookupError::Timeout(timeout));
        let _request_guard = tokio::time::timeout(timeout, self.request_lock.lock())
            .await
            .map_err(|_| timed_out())?;

        // Another caller may have completed a request while this one waited.
        {
            let state = self.lock_state();
            if let Some(token) = state.fresh_token(Instant::now()) {
                return Ok(token);
            }
            if state.completed_requests != completed_before_wait {
                if let Some(error) = &state.last_error {
                    return state
                        .unexpired_token(Instant::now())
                        .ok_or_else(|| error.clone());
                }
            }
        }

        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(timed_out());
        }
        let requested_at = Instant::now();
        let result = tokio::time::timeout(left, self.token_source.request_token(left))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        self.store(result, requested_at)
    }

    /// Discards the cached token if it is `rejected`, after the API rejected
    /// it, so that the next [`TokenCache::token`] requests a new one. A token
    /// that another caller fetched in the meantime is kept. Returns whether
    /// the cached token was discarded.
    pub fn invalidate(&self, rejected: &Token) -> bool {
        let mut state = self.lock_state();
        let is_cached = state
            .token
            .as_ref()
            .is_some_and(|cached| cached.token.access_token() == rejected.access_token());
        if is_cached {
            state.token = None;
            tracing::info!(
                source = %self.source_name,
                "discarded the cached access token because the API rejected it"
            );
        }
        is_cached
    }

    /// Records the outcome of a token request and returns the token to use.
    fn store(
        &self,
        result: Result<Token, TokenError>,
        requested_at: Instant,
    ) -> Result<Arc<Token>, TokenError> {
        let mut state = self.lock_state();
        state.completed_requests += 1;
        match result {
            Ok(token) => {
                tracing::info!(
                    source = %self.source_name,
                    expires_in_secs = token.expires_in().map(|lifetime| lifetime.as_secs()),
                    "fetched an OAuth access token"
                );
                let token = Arc::new(token);
                state.token = Some(CachedToken::new(Arc::clone(&token), requested_at));
                state.last_error = None;
                Ok(token)
            }
            Err(error) => {
                tracing::error!(
                    source = %self.source_name,
                    oauth_error = error.oauth_error(),
                    status = error.status(),
                    %error,
                    "OAuth token request failed"
                );
                state.last_error = Some(error.clone());
                match state.unexpired_token(Instant::now()) {
                    Some(token) => {
                        tracing::warn!(
                            source = %self.source_name,
                            "kept using the current access token until it expires"
                        );
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CacheState {
    /// Returns the cached token, unless it is due for replacement.
    fn fresh_token(&self, now: Instant) -> Option<Arc<Token>> {
        self.token
            .as_ref()
            .filter(|cached| cached.is_fresh(now))
            .map(|cached| Arc::clone(&cached.token))
    }

    /// Returns the cached token, unless it has expired.
    fn unexpired_token(&self, now: Instant) -> Option<Arc<Token>> {
        self.token
            .as_ref()
            .filter(|cached| cached.is_unexpired(now))
            .map(|cached| Arc::clone(&cached.token))
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock_state();
        f.debug_struct("TokenCache")
            .field("source_name", &self.source_name)
            .field("token", &state.token.as_ref().map(|cached| &cached.token))
            .field("completed_requests", &state.completed_requests)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Returns `token-1`, `token-2`, ... after `delay`, with `expires_in`.
    /// Request number `fail_from` and every later one fail with
    /// `invalid_client` instead.
    struct CountingSource {
        requests: Arc<AtomicUsize>,
        delay: Duration,
        expires_in: Option<Duration>,
        fail_from: usize,
    }

    impl CountingSource {
        fn new(requests: &Arc<AtomicUsize>) -> Self {
            CountingSource {
                requests: Arc::clone(requests),
                delay: Duration::from_millis(50),
                expires_in: None,
                fail_from: usize::MAX,
            }
        }
    }

    #[async_trait]
    impl TokenSource for CountingSource {
        async fn request_token(&self, _timeout: Duration) -> Result<Token, TokenError> {
            let number = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            if number >= self.fail_from {
                return Err(TokenError::Rejected {
                    status: 400,
                    code: "invalid_client".to_string(),
                    description: None,
                });
            }
            let token = Token::new(Secret::new(format!("token-{number}")));
            Ok(match self.expires_in {
                Some(lifetime) => token.with_expires_in(lifetime),
                None => token,
            })
        }
    }

    fn parse(body: Value) -> Result<Token, LookupError> {
        Token::from_response(serde_json::from_value(body).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_request() {
        let requests = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(TokenCache::new("test", CountingSource::new(&requests)));

        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.token(Duration::from_secs(5)).await })
            })
            .collect();
        for task in tasks {
            let token = task.await.unwrap().unwrap();
            assert_eq!(token.access_token().expose(), "token-1");
        }

        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_callers_share_a_failure() {
        let requests = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            fail_from: 1,
            ..CountingSource::new(&requests)
        };
        let cache = Arc::new(TokenCache::new("test", source));

        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.token(Duration::from_secs(5)).await })
            })
            .collect();
        for task in tasks {
            let error = task.await.unwrap().unwrap_err();
            assert_eq!(error.oauth_error(), Some("invalid_client"));
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        // A later caller tries again.
        let _ = cache.token(Duration::from_secs(5)).await;
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn token_without_expiry_is_kept() {
        let requests = Arc::new(AtomicUsize::new(0));
        let cache = TokenCache::new("test", CountingSource::new(&requests));

        cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(30 * 24 * 3600)).await;
        let token = cache.token(Duration::from_secs(5)).await.unwrap();

        assert_eq!(token.access_token().expose(), "token-1");
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn token_is_replaced_before_expiry() {
        let requests = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            expires_in: Some(Duration::from_secs(3600)),
            ..CountingSource::new(&requests)
        };
        let cache = TokenCache::new("test", source);

        cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(3600 - 120)).await;
        let before_margin = cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(70)).await;
        let inside_margin = cache.token(Duration::from_secs(5)).await.unwrap();

        assert_eq!(before_margin.access_token().expose(), "token-1");
        assert_eq!(inside_margin.access_token().expose(), "token-2");
    }

    #[tokio::test(start_paused = true)]
    async fn short_token_is_replaced_at_half_life() {
        let requests = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            expires_in: Some(Duration::from_secs(60)),
            delay: Duration::ZERO,
            ..CountingSource::new(&requests)
        };
        let cache = TokenCache::new("test", source);

        cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(29)).await;
        cache.token(Duration::from_secs(5)).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        tokio::time::advance(Duration::from_secs(2)).await;
        cache.token(Duration::from_secs(5)).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_early_refresh_keeps_unexpired_token() {
        let requests = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            expires_in: Some(Duration::from_secs(3600)),
            fail_from: 2,
            ..CountingSource::new(&requests)
        };
        let cache = TokenCache::new("test", source);

        cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(3600 - 30)).await;
        let inside_margin = cache.token(Duration::from_secs(5)).await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        let after_expiry = cache.token(Duration::from_secs(5)).await;

        assert_eq!(inside_margin.access_token().expose(), "token-1");
        assert!(after_expiry.is_err());
        assert_eq!(requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn invalidate_discards_rejected_token() {
        let requests = Arc::new(AtomicUsize::new(0));
        let cache = TokenCache::new("test", CountingSource::new(&requests));

        let first = cache.token(Duration::from_secs(5)).await.unwrap();
        assert!(cache.invalidate(&first));
        let second = cache.token(Duration::from_secs(5)).await.unwrap();

        assert_eq!(second.access_token().expose(), "token-2");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_invalidate_keeps_newer_token() {
        let requests = Arc::new(AtomicUsize::new(0));
        let cache = TokenCache::new("test", CountingSource::new(&requests));

        let first = cache.token(Duration::from_secs(5)).await.unwrap();
        assert!(cache.invalidate(&first));
        let second = cache.token(Duration::from_secs(5)).await.unwrap();
        // A second caller that also failed with the first token reports it late.
        assert!(!cache.invalidate(&first));
        let third = cache.token(Duration::from_secs(5)).await.unwrap();

        assert_eq!(second.access_token().expose(), "token-2");
        assert_eq!(third.access_token().expose(), "token-2");
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_source_times_out() {
        let requests = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            delay: Duration::from_secs(10),
            ..CountingSource::new(&requests)
        };
        let cache = TokenCache::new("test", source);

        let error = cache.token(Duration::from_secs(1)).await.unwrap_err();

        assert_eq!(
            error,
            TokenError::Failed(LookupError::Timeout(Duration::from_secs(1)))
        );
    }

    #[test]
    fn response_fields_are_read() {
        let token = parse(json!({
            "access_token": "abc",
            "token_type": "Bearer",
            "expires_in": 3600,
            "instance_url": "https://acme.my.salesforce.com",
        }))
        .unwrap();
        assert_eq!(token.access_token().expose(), "abc");
        assert_eq!(token.token_type(), Some("Bearer"));
        assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
        assert_eq!(
            token.extra_str("instance_url"),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(token.extra("access_token"), None);
    }

    #[test]
    fn expires_in_as_string_or_absent() {
        let token = parse(json!({"access_token": "abc", "expires_in": "120"})).unwrap();
        assert_eq!(token.expires_in(), Some(Duration::from_secs(120)));

        let token = parse(json!({"access_token": "abc"})).unwrap();
        assert_eq!(token.expires_in(), None);

        let token = parse(json!({"access_token": "abc", "expires_in": null})).unwrap();
        assert_eq!(token.expires_in(), None);
    }

    #[test]
    fn expires_in_invalid_is_bad_response() {
        for value in [json!("soon"), json!(-5), json!(true)] {
            let error = parse(json!({"access_token": "abc", "expires_in": value})).unwrap_err();
            assert!(matches!(error, LookupError::BadResponse(_)), "{value}");
        }
    }

    #[test]
    fn missing_access_token_is_bad_response() {
        for body in [
            json!({"token_type": "Bearer"}),
            json!({"access_token": " "}),
        ] {
            let error = parse(body.clone()).unwrap_err();
            assert_eq!(
                error,
                LookupError::BadResponse("token response has no access_token".to_string()),
                "{body}"
            );
        }
    }

    #[test]
    fn token_debug_hides_credentials() {
        let token = parse(json!({
            "access_token": "access-value-1",
            "refresh_token": "refresh-value-2",
        }))
        .unwrap();
        let printed = format!("{token:?}");
        assert!(!printed.contains("access-value-1"), "{printed}");
        assert!(!printed.contains("refresh-value-2"), "{printed}");
        assert!(printed.contains("refresh_token"), "{printed}");
    }

    #[test]
    fn form_source_debug_hides_secrets() {
        let source = FormTokenSource::new(reqwest::Client::new(), "https://example.test/token")
            .field("grant_type", "client_credentials")
            .secret_field("client_secret", Secret::new("secret-value-3"));
        let printed = format!("{source:?}");
        assert!(!printed.contains("secret-value-3"), "{printed}");
        assert!(printed.contains("client_credentials"), "{printed}");
    }

    #[test]
    fn rejection_with_oauth_error() {
        let body =
            br#"{"error": "invalid_client", "error_description": "invalid client credentials"}"#;
        let error = rejection(StatusCode::BAD_REQUEST, Some(body), &[]);
        assert_eq!(
            error.to_string(),
            "token request rejected with HTTP 400 and OAuth error `invalid_client`: invalid client credentials"
        );
        assert_eq!(LookupError::from(error), LookupError::Auth { status: 400 });
    }

    #[test]
    fn rejection_without_oauth_error() {
        let not_oauth = [
            None,
            Some(&b"<html>Bad Request</html>"[..]),
            Some(&br#"{"error": "has spaces in it"}"#[..]),
            Some(&br#"{"error": 42}"#[..]),
        ];
        for body in not_oauth {
            let error = rejection(StatusCode::BAD_REQUEST, body, &[]);
            assert_eq!(
                error,
                TokenError::Failed(LookupError::Rejected { status: 400 })
            );
        }
        let error = rejection(StatusCode::UNAUTHORIZED, None, &[]);
        assert_eq!(error, TokenError::Failed(LookupError::Auth { status: 401 }));
    }

    #[test]
    fn description_quoting_a_form_value_is_dropped() {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "5Aep861abc"),
        ];
        assert_eq!(
            safe_description("unknown refresh token 5Aep861abc", &form),
            None
        );
        assert_eq!(
            safe_description("refresh_token grant is not enabled", &form).as_deref(),
            Some("refresh_token grant is not enabled")
        );
    }

    #[test]
    fn description_checks() {
        let long_word = "x".repeat(25);
        let cases = [
            ("authentication failure", true),
            ("user hasn't approved this consumer", true),
            ("  expired access/refresh token  ", true),
            ("", false),
            ("line one\nline two", false),
            (long_word.as_str(), false),
        ];
        for (text, kept) in cases {
            assert_eq!(safe_description(text, &[]).is_some(), kept, "{text:?}");
        }
        assert_eq!(safe_description(&"word ".repeat(50), &[]), None);
    }
}

/// Token requests against a mock token endpoint: the form that is sent, the
/// token that is read, and the errors of a rejected or failed request.
#[cfg(test)]
mod token_request_tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const CLIENT_SECRET: &str = "client-secret-8f2a91c4d7";

    fn client_credentials(server: &MockServer) -> FormTokenSource {
        FormTokenSource::new(
            crate::http::client(),
            format!("{}/oauth/token", server.uri()),
        )
        .field("grant_type", "client_credentials")
        .field("client_id", "client-1")
        .secret_field("client_secret", Secret::new(CLIENT_SECRET))
    }

    async fn token_endpoint(response: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn form_is_sent_and_token_read() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(header("accept", "application/json"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains("client_id=client-1"))
            .and(body_string_contains(format!(
                "client_secret={CLIENT_SECRET}"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "access-1",
                "token_type": "Bearer",
                "expires_in": 1800,
                "scope": "read",
            })))
            .expect(1)
            .mount(&server)
            .await;

        let cache = TokenCache::new("test", client_credentials(&server));
        let token = cache.token(Duration::from_secs(5)).await.unwrap();

        assert_eq!(token.access_token().expose(), "access-1");
        assert_eq!(token.expires_in(), Some(Duration::from_secs(1800)));
        assert_eq!(token.extra_str("scope"), Some("read"));
    }

    #[tokio::test]
    async fn invalid_client_names_code_not_secret() {
        let server = token_endpoint(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("client secret {CLIENT_SECRET} is wrong"),
        })))
        .await;

        let cache = TokenCache::new("test", client_credentials(&server));
        let error = cache.token(Duration::from_secs(5)).await.unwrap_err();

        let printed = format!("{error} {error:?}");
        assert_eq!(error.oauth_error(), Some("invalid_client"));
        assert!(printed.contains("invalid_client"), "{printed}");
        assert!(!printed.contains(CLIENT_SECRET), "{printed}");
        assert_eq!(LookupError::from(error), LookupError::Auth { status: 400 });
    }

    #[tokio::test]
    async fn unauthorized_with_oauth_error() {
        let server = token_endpoint(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "Client authentication failed",
        })))
        .await;

        let error = post_token_form(
            &crate::http::client(),
            &format!("{}/oauth/token", server.uri()),
            &[("grant_type", "client_credentials")],
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();

        assert_eq!(
            error,
            TokenError::Rejected {
                status: 401,
                code: "invalid_client".to_string(),
                description: Some("Client authentication failed".to_string()),
            }
        );
    }

    #[tokio::test]
    async fn server_error_stays_retryable() {
        let server =
            token_endpoint(ResponseTemplate::new(503).insert_header("Retry-After", "4")).await;

        let cache = TokenCache::new("test", client_credentials(&server));
        let error = LookupError::from(cache.token(Duration::from_secs(5)).await.unwrap_err());

        assert_eq!(
            error,
            LookupError::Server {
                status: 503,
                retry_after: Some(Duration::from_secs(4)),
            }
        );
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn response_without_token_is_bad_response() {
        let server = token_endpoint(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
        })))
        .await;

        let cache = TokenCache::new("test", client_credentials(&server));
        let error = cache.token(Duration::from_secs(5)).await.unwrap_err();

        assert!(
            matches!(error, TokenError::Failed(LookupError::BadResponse(_))),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn slow_token_endpoint_times_out() {
        let server = token_endpoint(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "access-1"}))
                .set_delay(Duration::from_secs(3)),
        )
        .await;

        let cache = TokenCache::new("test", client_credentials(&server));
        let error = cache.token(Duration::from_millis(300)).await.unwrap_err();

        assert!(
            matches!(error, TokenError::Failed(LookupError::Timeout(_))),
            "{error:?}"
        );
    }
}
