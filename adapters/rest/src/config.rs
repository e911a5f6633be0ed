//! The keys of a `type = "rest"` source table and their validation.

use std::collections::BTreeMap;

use badgegate_adapter::{parse_options, BuildError};
use reqwest::header::HeaderName;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Auth;
use crate::request::{RequestOptions, RequestSpec, NUMBER_PLACEHOLDERS, TERM};
use crate::response::ResponseMapping;

/// The source table's own keys, as written in the config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// API root; `path` is appended to it.
    base_url: Option<String>,
    /// `GET` (default) or `POST`.
    method: Option<String>,
    /// Path template, such as `/api/v1/persons/search`.
    path: Option<String>,
    /// Query parameters: name to value template.
    #[serde(default)]
    query: BTreeMap<String, Value>,
    /// Request headers: name to value template.
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    /// JSON body of a POST, whose strings are templates.
    body: Option<Value>,
    /// Spellings of the number bound to `{term}`, tried in order.
    forms: Option<Vec<String>>,
    /// Fixed values that templates may use by name.
    #[serde(default)]
    constants: BTreeMap<String, Value>,
    /// Credentials of each request, parsed by [`Auth::from_options`].
    auth: Option<Value>,
    /// Mapping from the response to badge fields, parsed by
    /// [`ResponseMapping::from_options`].
    response: Option<Value>,
}

/// Validated settings of one REST source. `Debug` shows no credential.
#[derive(Debug)]
pub(crate) struct Config {
    pub request: RequestSpec,
    pub auth: Auth,
    pub response: ResponseMapping,
}

impl Config {
    /// Parses and validates the source's options and builds the OAuth token
    /// cache, without any network call. The error names the key at fault
    /// and what to write instead.
    pub fn from_options(
        options: Value,
        source_name: &str,
        http: &reqwest::Client,
    ) -> Result<Config, BuildError> {
        let options: Options = parse_options(options)?;

        let base_url = match options.base_url {
            Some(value) => validate_url("base_url", &value, "https://api.example.com")?,
            None => {
                return Err(BuildError::for_key(
                    "base_url",
                    "is required but missing; write the API's root URL, e.g. base_url = \"https://api.example.com\"",
                ))
            }
        };
        let constants = parse_constants(options.constants)?;
        let auth = match options.auth {
            Some(auth) => Auth::from_options(auth, source_name, http)?,
            None => {
                return Err(BuildError::for_key(
                    "auth",
                    "is required but missing; write how requests carry credentials, e.g. auth = { type = \"bearer\", token = \"${API_TOKEN}\" }, or auth = { type = \"none\" }",
                ))
            }
        };
        let query = scalars_to_text("query", options.query)?;
        let headers = scalars_to_text("headers", options.headers)?;
        check_auth_conflicts(&auth, &query, &headers)?;

        let request = RequestSpec::new(
            RequestOptions {
                method: options.method,
                base_url,
                path: options.path,
                query,
                headers,
                body: options.body,
                forms: options.forms,
            },
            constants.clone(),
        )?;
        let response = match options.response {
            Some(response) => ResponseMapping::from_options(response, constants)?,
            None => {
                return Err(BuildError::for_key(
                    "response",
                    "is required but missing; add a [sources.response] table with records, name, link and phones",
                ))
            }
        };

        Ok(Config {
            request,
            auth,
            response,
        })
    }
}

/// Checks that `value` is an absolute http(s) URL without query, fragment
/// or credentials, and returns it without trailing slashes.
pub(crate) fn validate_url(key: &str, value: &str, example: &str) -> Result<String, BuildError> {
    let invalid = |reason: &str| {
        BuildError::for_key(
            key,
            format!(
                "`{}` is not a valid URL ({reason}). Write an http(s) URL such as \"{example}\"",
                badgegate_adapter::http::without_credentials(value)
            ),
        )
    };

    let url = Url::parse(value.trim()).map_err(|error| invalid(&error.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain credentials; use `auth`"));
    }

    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Accepts constant names of letters, digits and `_` that do not start with
/// a digit and are not a placeholder's name, with text, number or boolean
/// values.
fn parse_constants(
    constants: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, BuildError> {
    let constants = scalars_to_text("constants", constants)?;
    for name in constants.keys() {
        let is_identifier = name
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_identifier {
            return Err(BuildError::for_key(
                "constants",
                format!("`{name}` is not a valid constant name; use letters, digits and `_`, e.g. company"),
            ));
        }
        let is_reserved = name == TERM
            || NUMBER_PLACEHOLDERS
                .iter()
                .any(|(placeholder, _)| placeholder == name);
        if is_reserved {
            return Err(BuildError::for_key(
                format!("constants.{name}"),
                format!("`{name}` is the name of a built-in placeholder; choose another name"),
            ));
        }
    }
    Ok(constants)
}

/// Converts a table's values to text: strings as they are, numbers and
/// booleans as TOML writes them (`exact_match = true` sends `true`).
fn scalars_to_text(
    key: &str,
    table: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, BuildError> {
    table
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    return Err(BuildError::for_key(
                        format!("{key}.{name}"),
                        "must be text, a number or a boolean",
                    ))
                }
            };
            Ok((name, text))
        })
        .collect()
}

/// Rejects `headers` and `query` entries that would carry credentials next
/// to `auth` or replace the ones it sets.
fn check_auth_conflicts(
    auth: &Auth,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
) -> Result<(), BuildError> {
    if let Some(auth_header) = auth.header_name() {
        let conflict = headers.keys().find(|name| {
            HeaderName::from_bytes(name.trim().as_bytes()).is_ok_and(|name| name == auth_header)
        });
        if let Some(name) = conflict {
            return Err(BuildError::for_key(
                format!("headers.{name}"),
                format!(
                    "is the header that auth type `{}` sets; remove it from `headers`",
                    auth.kind()
                ),
            ));
        }
    }
    if let Some(auth_query) = auth.query_name() {
        if query.contains_key(auth_query) {
            return Err(BuildError::for_key(
                format!("query.{auth_query}"),
                "is the parameter that auth type `query` sets; remove it from `query`",
            ));
        }
    }
    Ok(())
}
