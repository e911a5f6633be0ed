//! The OAuth flows of a Salesforce connected app, as token requests to
//! `{login_url}/services/oauth2/token`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use badgegate_adapter::oauth::{
    post_token_form, FormTokenSource, Token, TokenCache, TokenError, TokenSource,
};
use badgegate_adapter::{LookupError, Secret};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// `grant_type` of the JWT bearer flow (RFC 7523).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Lifetime of a JWT assertion, which is used for one token request.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3 * 60);

/// A connected app's OAuth flow and credentials. `Debug` shows secrets as
/// `[redacted]` and the private key only by its path.
#[derive(Debug)]
pub(crate) enum Auth {
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    JwtBearer {
        client_id: String,
        username: String,
        key: SigningKey,
    },
    RefreshToken {
        client_id: String,
        client_secret: Option<Secret>,
        refresh_token: Secret,
    },
}

impl Auth {
    /// Builds the token cache for this flow. `login_url` is the token
    /// endpoint's root and, for the JWT bearer flow, the assertion's audience.
    pub fn into_token_cache(
        self,
        source_name: &str,
        http: reqwest::Client,
        login_url: &str,
    ) -> TokenCache {
        let token_url = format!("{login_url}/services/oauth2/token");
        match self {
            Auth::ClientCredentials {
                client_id,
                client_secret,
            } => {
                let source = FormTokenSource::new(http, token_url)
                    .field("grant_type", "client_credentials")
                    .field("client_id", client_id)
                    .secret_field("client_secret", client_secret);
                TokenCache::new(source_name, source)
            }
            Auth::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
            } => {
                // NOTE: when the connected app rotates refresh tokens, a token
                // response carries a new refresh_token, which is not stored,
                // so the configured one stops working.
                let mut source = FormTokenSource::new(http, token_url)
                    .field("grant_type", "refresh_token")
                    .secret_field("refresh_token", refresh_token)
                    .field("client_id", client_id);
                if let Some(client_secret) = client_secret {
                    source = source.secret_field("client_secret", client_secret);
                }
                TokenCache::new(source_name, source)
            }
            Auth::JwtBearer {
                client_id,
                username,
                key,
            } => {
                let source = JwtBearerSource {
                    http,
                    token_url,
                    claims_template: AssertionClaims {
                        iss: client_id,
                        sub: username,
                        aud: login_url.to_string(),
                        exp: 0,
                    },
                    key,
                };
                TokenCache::new(source_name, source)
            }
        }
    }
}

/// An RS256 private key read from a PEM file. `Debug` shows only its path.
pub(crate) struct SigningKey {
    path: PathBuf,
    key: EncodingKey,
}

impl SigningKey {
    /// Reads an RSA private key in PEM form (PKCS#1 or PKCS#8) and checks
    /// that it can sign, so that a bad key file fails at build time. The
    /// error message names the path and the cause.
    pub fn from_pem_file(path: &Path) -> Result<SigningKey, String> {
        let pem = std::fs::read(path).map_err(|error| {
            format!(
                "cannot read the private key file `{}`: {error}. Write the path of the connected \
                 app's PEM private key, relative to the config file",
                path.display()
            )
        })?;
        let key = EncodingKey::from_rsa_pem(&pem).map_err(|error| {
            format!(
                "`{}` is not a PEM-encoded RSA private key ({error}). Use the key whose \
                 certificate is uploaded to the connected app",
                path.display()
            )
        })?;
        let signing_key = SigningKey {
            path: path.to_path_buf(),
            key,
        };
        let probe = AssertionClaims {
            iss: String::new(),
            sub: String::new(),
            aud: String::new(),
            exp: 0,
        };
        signing_key.sign(&probe).map_err(|error| {
            format!(
                "the RSA key in `{}` cannot sign an RS256 JWT ({error}). Use an RSA key of at \
                 least 2048 bits",
                path.display()
            )
        })?;
        Ok(signing_key)
    }

    fn sign(&self, claims: &AssertionClaims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &self.key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The claims Salesforce requires of a JWT bearer assertion.
#[derive(Debug, Clone, Serialize)]
struct AssertionClaims {
    /// The connected app's consumer key.
    iss: String,
    /// The username of the Salesforce user the token acts for.
    sub: String,
    /// The login URL.
    aud: String,
    /// Expiry in seconds since the Unix epoch.
    exp: u64,
}

/// The JWT bearer flow: every token request carries a newly signed assertion.
struct JwtBearerSource {
    http: reqwest::Client,
    token_url: String,
    /// The claims with `exp` left to be set at each request.
    claims_template: AssertionClaims,
    key: SigningKey,
}

#[async_trait]
impl TokenSource for JwtBearerSource {
    async fn request_token(&self, timeout: Duration) -> Result<Token, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let claims = AssertionClaims {
            exp: (now + ASSERTION_LIFETIME).as_secs(),
            ..self.claims_template.clone()
        };
        // The key signed a probe at build time, so signing fails only if the
        // crypto library does.
        let assertion = self.key.sign(&claims).map_err(|error| {
            TokenError::Failed(LookupError::BadResponse(format!(
                "could not sign the JWT assertion: {error}"
            )))
        })?;
        let form = [("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)];
        post_token_form(&self.http, &self.token_url, &form, timeout).await
    }
}
