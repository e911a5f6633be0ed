//! The keys of a `type = "salesforce"` source table and their validation.

use std::path::{Path, PathBuf};

use badgegate_adapter::{parse_options, BuildError, Secret};
use reqwest::Url;
use serde::Deserialize;

use crate::auth::{Auth, SigningKey};

/// Default URL of Salesforce's login server, which issues tokens for
/// production orgs.
pub(crate) const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";

/// Default REST API version.
pub(crate) const DEFAULT_API_VERSION: &str = "v62.0";

/// Default objects to search, in order of precedence.
pub(crate) const DEFAULT_OBJECTS: [&str; 2] = ["Contact", "Lead"];

/// The values `auth.type` accepts.
const AUTH_TYPES: [&str; 3] = ["client_credentials", "jwt_bearer", "refresh_token"];

/// The source table's own keys, as written in the config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The OAuth flow and its credentials. They are parsed into
    /// [`AuthOptions`] after `type` is checked, so that errors name `auth.`
    /// keys.
    auth: Option<serde_json::Value>,
    /// Salesforce's login server or the org's My Domain URL. Default
    /// `https://login.salesforce.com`.
    login_url: Option<String>,
    /// REST API version such as `v62.0`.
    api_version: Option<String>,
    /// Objects to search, in order of precedence.
    objects: Option<Vec<String>>,
    /// Root of record links, such as `https://acme.lightning.force.com`.
    /// Default: derived from the token's `instance_url`.
    lightning_url: Option<String>,
}

/// The `auth` table of each flow, as written in the config file.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum AuthOptions {
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    JwtBearer {
        client_id: String,
        username: String,
        private_key_path: PathBuf,
    },
    RefreshToken {
        client_id: String,
        client_secret: Option<Secret>,
        refresh_token: Secret,
    },
}

/// Validated settings of one Salesforce source. `Debug` shows secrets as
/// `[redacted]`.
#[derive(Debug)]
pub(crate) struct Config {
    pub auth: Auth,
    /// Login URL without a trailing slash. It is also the JWT audience.
    pub login_url: String,
    pub api_version: String,
    /// Object API names in order of precedence, such as `Contact`.
    pub objects: Vec<String>,
    /// Root of record links without a trailing slash, when configured.
    pub lightning_url: Option<String>,
}

impl Config {
    /// Parses and validates the source's options, reading the JWT private
    /// key file relative to `config_dir`. The error names the key at fault
    /// and what to write instead.
    pub fn from_options(
        options: serde_json::Value,
        config_dir: &Path,
    ) -> Result<Config, BuildError> {
        let options: Options = parse_options(options)?;

        let login_url = match options.login_url {
            Some(value) => validate_url("login_url", &value, DEFAULT_LOGIN_URL)?,
            None => DEFAULT_LOGIN_URL.to_string(),
        };

        let auth = match options.auth {
            Some(auth) => parse_auth(auth, config_dir)?,
            None => {
                return Err(BuildError::for_key(
                    "auth",
                    "is required but missing. Write the connected app's OAuth flow, e.g. \
                     auth = { type = \"client_credentials\", client_id = \"${SF_CLIENT_ID}\", \
                     client_secret = \"${SF_CLIENT_SECRET}\" }",
                ))
            }
        };

        let api_version = match options.api_version {
            Some(value) => validate_api_version(&value)?,
            None => DEFAULT_API_VERSION.to_string(),
        };

        let objects = match options.objects {
            Some(objects) => validate_objects(objects)?,
            None => DEFAULT_OBJECTS
                .iter()
                .map(|object| object.to_string())
                .collect(),
        };

        let lightning_url = options
            .lightning_url
            .map(|value| validate_url("lightning_url", &value, "https://acme.lightning.force.com"))
            .transpose()?;

        Ok(Config {
            auth,
            login_url,
            api_version,
            objects,
            lightning_url,
        })
    }
}

/// Parses the `auth` table. `type` is checked first, so that a missing or
/// unknown flow gets a message listing the valid ones.
fn parse_auth(auth: serde_json::Value, config_dir: &Path) -> Result<Auth, BuildError> {
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
        Some(serde_json::Value::String(kind)) if AUTH_TYPES.contains(&kind.as_str()) => {}
        Some(serde_json::Value::String(kind)) => {
            return Err(BuildError::for_key(
                "auth.type",
                format!("`{kind}` is not a supported OAuth flow; write one of {valid_types}"),
            ))
        }
        Some(other) => {
            return Err(BuildError::for_key(
                "auth.type",
                format!("`{other}` is not a supported OAuth flow; write one of {valid_types}"),
            ))
        }
        None => {
            return Err(BuildError::for_key(
                "auth.type",
                format!("is required but missing; write one of {valid_types}"),
            ))
        }
    }

    let options: AuthOptions = parse_options(auth).map_err(|error| BuildError {
        key: Some(match error.key {
            Some(key) => format!("auth.{key}"),
            None => "auth".to_string(),
        }),
        message: error.message,
    })?;

    match options {
        AuthOptions::ClientCredentials {
            client_id,
            client_secret,
        } => Ok(Auth::ClientCredentials {
            client_id: require_text("auth.client_id", client_id)?,
            client_secret: require_secret("auth.client_secret", client_secret)?,
        }),
        AuthOptions::JwtBearer {
            client_id,
            username,
            private_key_path,
        } => {
            let path = config_dir.join(private_key_path);
            let key = SigningKey::from_pem_file(&path)
                .map_err(|message| BuildError::for_key("auth.private_key_path", message))?;
            Ok(Auth::JwtBearer {
                client_id: require_text("auth.client_id", client_id)?,
                username: require_text("auth.username", username)?,
                key,
            })
        }
        AuthOptions::RefreshToken {
            client_id,
            client_secret,
            refresh_token,
        } => Ok(Auth::RefreshToken {
            client_id: require_text("auth.client_id", client_id)?,
            client_secret: client_secret
                .map(|secret| require_secret("auth.client_secret", secret))
                .transpose()?,
            refresh_token: require_secret("auth.refresh_token", refresh_token)?,
        }),
    }
}

fn require_text(key: &str, value: String) -> Result<String, BuildError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(BuildError::for_key(
            key,
            "is empty. Write the value from the connected app, or set the environment variable it reads",
        ));
    }
    Ok(value.to_string())
}

fn require_secret(key: &str, value: Secret) -> Result<Secret, BuildError> {
    if value.expose().trim().is_empty() {
        return Err(BuildError::for_key(
            key,
            "is empty. Read it from an environment variable, e.g. \"${SF_CLIENT_SECRET}\", and check that the variable is set",
        ));
    }
    Ok(value)
}

/// Checks that `value` is an absolute http(s) URL without query, fragment
/// or credentials, and returns it without trailing slashes.
fn validate_url(key: &str, value: &str, example: &str) -> Result<String, BuildError> {
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
        return Err(invalid("it must not contain credentials"));
    }

    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Accepts `v` followed by a major and a minor version number, such as `v62.0`.
fn validate_api_version(value: &str) -> Result<String, BuildError> {
    let value = value.trim();
    let is_digits = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    let valid = value
        .strip_prefix('v')
        .and_then(|number| number.split_once('.'))
        .is_some_and(|(major, minor)| is_digits(major) && is_digits(minor));
    if !valid {
        return Err(BuildError::for_key(
            "api_version",
            format!("`{value}` is not a Salesforce REST API version. Write `v` and the version number, e.g. api_version = \"{DEFAULT_API_VERSION}\""),
        ));
    }
    Ok(value.to_string())
}

/// Accepts a non-empty list of distinct object API names such as `Contact`
/// or `Patient__c`.
fn validate_objects(objects: Vec<String>) -> Result<Vec<String>, BuildError> {
    if objects.is_empty() {
        return Err(BuildError::for_key(
            "objects",
            "is empty. List the objects to search, e.g. objects = [\"Contact\", \"Lead\"]",
        ));
    }
    let mut valid: Vec<String> = Vec::with_capacity(objects.len());
    for object in objects {
        let object = object.trim().to_string();
        if !is_identifier(&object) {
            return Err(BuildError::for_key(
                "objects",
                format!("`{object}` is not an object API name. Write names such as \"Contact\", \"Lead\" or \"Patient__c\""),
            ));
        }
        if valid.iter().any(|seen| seen.eq_ignore_ascii_case(&object)) {
            return Err(BuildError::for_key(
                "objects",
                format!("`{object}` is listed twice; list each object once"),
            ));
        }
        valid.push(object);
    }
    Ok(valid)
}

/// Returns whether `text` is a Salesforce API name: a letter, then letters,
/// digits and underscores.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client_credentials() -> serde_json::Value {
        json!({"type": "client_credentials", "client_id": "id-1", "client_secret": "secret-1"})
    }

    fn parse(options: serde_json::Value) -> Result<Config, BuildError> {
        Config::from_options(options, Path::new("."))
    }

    #[test]
    fn defaults() {
        let config = parse(json!({"auth": client_credentials()})).unwrap();
        assert_eq!(config.login_url, "https://login.salesforce.com");
        assert_eq!(config.api_version, "v62.0");
        assert_eq!(config.objects, vec!["Contact", "Lead"]);
        assert_eq!(config.lightning_url, None);
    }

    #[test]
    fn login_url_trailing_slash_is_dropped() {
        let config = parse(json!({
            "auth": client_credentials(),
            "login_url": "https://acme.my.salesforce.com/",
        }))
        .unwrap();
        assert_eq!(config.login_url, "https://acme.my.salesforce.com");
    }

    #[test]
    fn urls_are_validated() {
        for key in ["login_url", "lightning_url"] {
            for value in [
                "login.salesforce.com",
                "ftp://login.salesforce.com",
                "https://login.salesforce.com/?a=1",
                "https://user:pass@login.salesforce.com",
            ] {
                let error = parse(json!({"auth": client_credentials(), key: value})).unwrap_err();
                assert_eq!(error.key.as_deref(), Some(key), "{value}");
                if value.contains("pass@") {
                    assert!(!error.message.contains("pass"), "{error}");
                    assert!(
                        error.message.contains("***@login.salesforce.com"),
                        "{error}"
                    );
                } else {
                    assert!(error.message.contains(value), "{error}");
                }
            }
        }
    }

    #[test]
    fn api_version_shape() {
        for value in ["v62.0", "v58.0", "v100.1"] {
            let config =
                parse(json!({"auth": client_credentials(), "api_version": value})).unwrap();
            assert_eq!(config.api_version, value);
        }
        for value in ["62.0", "v62", "v62.", "V62.0", "v62.0/", "latest", ""] {
            let error =
                parse(json!({"auth": client_credentials(), "api_version": value})).unwrap_err();
            assert_eq!(error.key.as_deref(), Some("api_version"), "{value}");
            assert!(error.message.contains("v62.0"), "{error}");
        }
    }

    #[test]
    fn objects_are_identifiers() {
        let config = parse(json!({
            "auth": client_credentials(),
            "objects": ["Lead", "Account", "Patient__c"],
        }))
        .unwrap();
        assert_eq!(config.objects, vec!["Lead", "Account", "Patient__c"]);

        for objects in [
            json!([]),
            json!(["Contact", "Contact(Id)"]),
            json!(["Contact", "contact"]),
            json!(["1Contact"]),
            json!(["Contact Lead"]),
        ] {
            let error = parse(json!({"auth": client_credentials(), "objects": objects.clone()}))
                .unwrap_err();
            assert_eq!(error.key.as_deref(), Some("objects"), "{objects}");
        }
    }

    #[test]
    fn auth_is_required() {
        let error = parse(json!({})).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("auth"));
        assert!(error.message.contains("client_credentials"), "{error}");
    }

    #[test]
    fn auth_keys_are_prefixed() {
        let error = parse(json!({"auth": {
            "type": "client_credentials", "client_id": "id-1", "client_secret": "s", "scope": "api",
        }}))
        .unwrap_err();
        assert_eq!(error.key.as_deref(), Some("auth.scope"));
        assert!(error.message.contains("client_secret"), "{error}");

        let error = parse(json!({"auth": {"type": "client_credentials", "client_id": "id-1"}}))
            .unwrap_err();
        assert_eq!(error.key.as_deref(), Some("auth.client_secret"));
    }

    #[test]
    fn auth_type_lists_valid_flows() {
        for auth in [
            json!({"type": "password", "client_id": "id-1"}),
            json!({"client_id": "id-1"}),
            json!({"type": 3}),
        ] {
            let error = parse(json!({ "auth": auth.clone() })).unwrap_err();
            assert_eq!(error.key.as_deref(), Some("auth.type"), "{auth}");
            for flow in AUTH_TYPES {
                assert!(error.message.contains(flow), "{error}");
            }
        }
        let error = parse(json!({"auth": "client_credentials"})).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("auth"));
    }

    #[test]
    fn empty_credentials_are_named() {
        let cases = [
            (
                json!({"type": "client_credentials", "client_id": " ", "client_secret": "s"}),
                "auth.client_id",
            ),
            (
                json!({"type": "client_credentials", "client_id": "id-1", "client_secret": ""}),
                "auth.client_secret",
            ),
            (
                json!({"type": "refresh_token", "client_id": "id-1", "refresh_token": ""}),
                "auth.refresh_token",
            ),
        ];
        for (auth, key) in cases {
            let error = parse(json!({ "auth": auth.clone() })).unwrap_err();
            assert_eq!(error.key.as_deref(), Some(key), "{auth}");
        }
    }

    #[test]
    fn refresh_token_secret_is_optional() {
        let config = parse(json!({"auth": {
            "type": "refresh_token", "client_id": "id-1", "refresh_token": "5Aep861",
        }}))
        .unwrap();
        assert!(matches!(
            config.auth,
            Auth::RefreshToken {
                client_secret: None,
                ..
            }
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let config = parse(json!({"auth": {
            "type": "refresh_token",
            "client_id": "id-1",
            "client_secret": "secret-value-1",
            "refresh_token": "refresh-value-2",
        }}))
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("secret-value-1"), "{printed}");
        assert!(!printed.contains("refresh-value-2"), "{printed}");
    }
}
