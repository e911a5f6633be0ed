//! The `auth` table of a `type = "rest"` source: how each request carries
//! its credentials, and the OAuth 2.0 token flows.

use std::collections::BTreeMap;
use std::fmt;

use badgegate_adapter::oauth::{FormTokenSource, Token, TokenCache};
use badgegate_adapter::{parse_options, BuildError, Secret};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::RequestBuilder;
use serde::Deserialize;

use crate::config::validate_url;
use crate::encoding::header_value;

/// The values `auth.type` accepts.
const AUTH_TYPES: [&str; 7] = [
    "none",
    "bearer",
    "basic",
    "header",
    "query",
    "oauth2_client_credentials",
    "oauth2_refresh_token",
];

/// The `Authorization` scheme OAuth access tokens are sent with by default
/// (RFC 6750).
const DEFAULT_SCHEME: &str = "Bearer";

/// Form fields of the token request that `auth.extra` may not replace.
const STANDARD_TOKEN_FIELDS: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
];

/// The `auth` table of each type, as written in the config file.
#[derive(Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum AuthOptions {
    #[serde(rename = "none")]
    None {},
    #[serde(rename = "bearer")]
    Bearer { token: Secret },
    #[serde(rename = "basic")]
    Basic { username: Secret, password: Secret },
    #[serde(rename = "header")]
    Header { name: String, value: Secret },
    #[serde(rename = "query")]
    Query { name: String, value: Secret },
    #[serde(rename = "oauth2_client_credentials")]
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scope: Option<String>,
        #[serde(default)]
        extra: BTreeMap<String, Secret>,
        scheme: Option<String>,
    },
    #[serde(rename = "oauth2_refresh_token")]
    RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: Option<Secret>,
        refresh_token: Secret,
        #[serde(default)]
        extra: BTreeMap<String, Secret>,
        scheme: Option<String>,
    },
}

/// The credentials every request carries, by auth type. `Debug` shows no
/// credential.
pub(crate) enum Auth {
    None,
    Bearer(Secret),
    Basic {
        username: Secret,
        password: Secret,
    },
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    Query {
        name: String,
        value: Secret,
    },
    OAuth2 {
        /// `auth.type`, for logs and `Debug`.
        flow: &'static str,
        /// One access token shared by every lookup of the source.
        tokens: TokenCache,
        /// The `Authorization` scheme the token is sent with.
        scheme: String,
    },
}

impl Auth {
    /// Parses the `auth` table. `type` is checked first, so that a missing
    /// or unknown type gets a message listing the valid ones. Builds the
    /// token cache of an OAuth flow without requesting a token.
    pub fn from_options(
        auth: serde_json::Value,
        source_name: &str,
        http: &reqwest::Client,
    ) -> Result<Auth, BuildError> {
        check_type(&auth)?;
        let options: AuthOptions = parse_options(auth).map_err(|error| {
            // serde lists no expected keys for `none`, which has none.
            let message = match error.message.strip_suffix("expected ") {
                Some(_) => "unknown key; auth type `none` takes no other keys".to_string(),
                None => error.message,
            };
            BuildError {
                key: Some(match error.key {
                    Some(key) => format!("auth.{key}"),
                    None => "auth".to_string(),
                }),
                message,
            }
        })?;

        match options {
            AuthOptions::None {} => Ok(Auth::None),
            AuthOptions::Bearer { token } => Ok(Auth::Bearer(require_secret("auth.token", token)?)),
            AuthOptions::Basic { username, password } => Ok(Auth::Basic {
                username: require_secret("auth.username", username)?,
                // Some APIs take the API key as the user name and an empty password.
                password,
            }),
            AuthOptions::Header { name, value } => {
                let header_name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                    BuildError::for_key(
                        "auth.name",
                        format!("`{name}` is not a valid HTTP header name"),
                    )
                })?;
                let value = require_secret("auth.value", value)?;
                let mut header_value = header_value(value.expose())
                    .map_err(|reason| BuildError::for_key("auth.value", reason))?;
                header_value.set_sensitive(true);
                Ok(Auth::Header {
                    name: header_name,
                    value: header_value,
                })
            }
            AuthOptions::Query { name, value } => Ok(Auth::Query {
                name: require_text("auth.name", name)?,
                value: require_secret("auth.value", value)?,
            }),
            AuthOptions::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
                extra,
                scheme,
            } => {
                let token_url = validate_url(
                    "auth.token_url",
                    &token_url,
                    "https://auth.example.com/oauth/token",
                )?;
                let mut source = FormTokenSource::new(http.clone(), token_url)
                    .field("grant_type", "client_credentials")
                    .field("client_id", require_text("auth.client_id", client_id)?)
                    .secret_field(
                        "client_secret",
                        require_secret("auth.client_secret", client_secret)?,
                    );
                if let Some(scope) = scope {
                    source = source.field("scope", require_text("auth.scope", scope)?);
                }
                Ok(Auth::OAuth2 {
                    flow: "oauth2_client_credentials",
                    tokens: TokenCache::new(source_name, add_extra(source, extra)?),
                    scheme: parse_scheme(scheme)?,
                })
            }
            AuthOptions::RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                extra,
                scheme,
            } => {
                let token_url = validate_url(
                    "auth.token_url",
                    &token_url,
                    "https://accounts.zoho.com/oauth/v2/token",
                )?;
                // NOTE: a token endpoint that rotates refresh tokens sends a
                // new refresh_token with each access token. It is not
                // stored, so the configured one stops working after the
                // first refresh with such an endpoint.
                let mut source = FormTokenSource::new(http.clone(), token_url)
                    .field("grant_type", "refresh_token")
                    .secret_field(
                        "refresh_token",
                        require_secret("auth.refresh_token", refresh_token)?,
                    )
                    .field("client_id", require_text("auth.client_id", client_id)?);
                if let Some(client_secret) = client_secret {
                    source = source.secret_field(
                        "client_secret",
                        require_secret("auth.client_secret", client_secret)?,
                    );
                }
                Ok(Auth::OAuth2 {
                    flow: "oauth2_refresh_token",
                    tokens: TokenCache::new(source_name, add_extra(source, extra)?),
                    scheme: parse_scheme(scheme)?,
                })
            }
        }
    }

    /// Returns the header this auth sets on every request, if any, so that
    /// `headers` cannot set it too.
    pub fn header_name(&self) -> Option<HeaderName> {
        match self {
            Auth::Bearer(_) | Auth::Basic { .. } | Auth::OAuth2 { .. } => Some(AUTHORIZATION),
            Auth::Header { name, .. } => Some(name.clone()),
            Auth::None | Auth::Query { .. } => None,
        }
    }

    /// Returns the query parameter this auth adds to every request, if any.
    pub fn query_name(&self) -> Option<&str> {
        match self {
            Auth::Query { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Returns the token cache of an OAuth flow.
    pub fn tokens(&self) -> Option<&TokenCache> {
        match self {
            Auth::OAuth2 { tokens, .. } => Some(tokens),
            _ => None,
        }
    }

    /// Adds the credentials to `request`. `token` is the access token of an
    /// OAuth flow and is ignored by the other types.
    pub fn apply(&self, request: RequestBuilder, token: Option<&Token>) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Basic { username, password } => {
                request.basic_auth(username.expose(), Some(password.expose()))
            }
            Auth::Header { name, value } => request.header(name.clone(), value.clone()),
            Auth::Query { name, value } => request.query(&[(name.as_str(), value.expose())]),
            Auth::OAuth2 { scheme, .. } => match token {
                Some(token) => {
                    let value = format!("{scheme} {}", token.access_token().expose());
                    match HeaderValue::from_str(&value) {
                        Ok(mut value) => {
                            value.set_sensitive(true);
                            request.header(AUTHORIZATION, value)
                        }
                        // The API then rejects the request with 401, so the
                        // lookup fails as an authentication failure.
                        Err(_) => request,
                    }
                }
                None => request,
            },
        }
    }

    /// Describes the credentials for the lookup trace, without their values.
    pub fn describe(&self) -> Option<String> {
        let redacted = Secret::REDACTED;
        match self {
            Auth::None => None,
            Auth::Bearer(_) => Some(format!("authorization: Bearer {redacted}")),
            Auth::Basic { .. } => Some(format!("authorization: Basic {redacted}")),
            Auth::Header { name, .. } => Some(format!("{name}: {redacted}")),
            Auth::Query { .. } => None,
            Auth::OAuth2 { scheme, .. } => Some(format!("authorization: {scheme} {redacted}")),
        }
    }

    /// Returns `auth.type`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer(_) => "bearer",
            Auth::Basic { .. } => "basic",
            Auth::Header { .. } => "header",
            Auth::Query { .. } => "query",
            Auth::OAuth2 { flow, .. } => flow,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Auth");
        debug.field("type", &self.kind());
        match self {
            Auth::Header { name, .. } => {
                debug.field("name", name);
            }
            Auth::Query { name, .. } => {
                debug.field("name", name);
            }
            Auth::OAuth2 { tokens, scheme, .. } => {
                debug.field("scheme", scheme).field("tokens", tokens);
            }
            Auth::None | Auth::Bearer(_) | Auth::Basic { .. } => {}
        }
        debug.finish_non_exhaustive()
    }
}

fn check_type(auth: &serde_json::Value) -> Result<(), BuildError> {
    let valid_types = AUTH_TYPES
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(table) = auth.as_object() else {
        return Err(BuildError::for_key(
            "auth",
            format!("must be a table with a `type` of {valid_types}"),
        ));
    };
    match table.get("type") {
        Some(serde_json::Value::String(kind)) if AUTH_TYPES.contains(&kind.as_str()) => Ok(()),
        Some(other) => {
            let kind = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            Err(BuildError::for_key(
                "auth.type",
                format!("`{kind}` is not a supported auth type; write one of {valid_types}"),
            ))
        }
        None => Err(BuildError::for_key(
            "auth.type",
            format!("is required but missing; write one of {valid_types}"),
        )),
    }
}

/// Adds `auth.extra` to the token request as secret fields, so that `Debug`
/// never shows them, whatever they hold.
fn add_extra(
    mut source: FormTokenSource,
    extra: BTreeMap<String, Secret>,
) -> Result<FormTokenSource, BuildError> {
    for (name, value) in extra {
        if name.trim().is_empty() {
            return Err(BuildError::for_key("auth.extra", "has an empty field name"));
        }
        if STANDARD_TOKEN_FIELDS.contains(&name.as_str()) {
            return Err(BuildError::for_key(
                format!("auth.extra.{name}"),
                format!("`{name}` is set by the flow itself; write it as its own `auth` key, or remove it"),
            ));
        }
        source = source.secret_field(name, value);
    }
    Ok(source)
}

/// Accepts an HTTP authentication scheme (an RFC 9110 token) such as
/// `Bearer` or `Zoho-oauthtoken`.
fn parse_scheme(scheme: Option<String>) -> Result<String, BuildError> {
    let Some(scheme) = scheme else {
        return Ok(DEFAULT_SCHEME.to_string());
    };
    let scheme = scheme.trim();
    let is_token = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if !is_token {
        return Err(BuildError::for_key(
            "auth.scheme",
            format!("`{scheme}` is not an HTTP authentication scheme; write one word such as \"Bearer\" or \"Zoho-oauthtoken\""),
        ));
    }
    Ok(scheme.to_string())
}

fn require_text(key: &str, value: String) -> Result<String, BuildError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(BuildError::for_key(
            key,
            "is empty. Write the value, or set the environment variable it reads",
        ));
    }
    Ok(value.to_string())
}

fn require_secret(key: &str, value: Secret) -> Result<Secret, BuildError> {
    if value.expose().trim().is_empty() {
        return Err(BuildError::for_key(
            key,
            "is empty. Read it from an environment variable, e.g. \"${API_TOKEN}\", and check that the variable is set",
        ));
    }
    Ok(value)
}
