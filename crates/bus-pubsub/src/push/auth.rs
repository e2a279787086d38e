//! Verification of the OIDC token Pub/Sub puts on push requests
//! (`Authorization: Bearer <JWT>`), and its configuration.

use std::fmt;
use std::time::Duration;

use angzarr_core::{Error, Result};
use http::HeaderMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::{GOOGLE_JWKS_URL, KeySource};

/// The issuers Google writes into push tokens.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// Why a push request was not authenticated.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    MissingToken,
    /// The token is malformed, badly signed, expired, or for someone else.
    Rejected(String),
    /// The keys could not be fetched: not the caller's fault, retriable.
    KeysUnavailable(Error),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str("missing `Authorization: Bearer` token"),
            AuthError::Rejected(why) => write!(f, "push token rejected: {why}"),
            AuthError::KeysUnavailable(e) => write!(f, "token keys unavailable: {e}"),
        }
    }
}

impl std::error::Error for AuthError {}

/// The claims of a verified push token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PushClaims {
    /// The service account the token was issued to.
    pub email: String,
    /// Whether Google verified that email.
    #[serde(default)]
    pub email_verified: bool,
    /// The audience.
    pub aud: String,
    /// The issuer.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Checks push tokens: RS256 signature by a key of the JWKS, one of the
/// configured issuers (Google's by default), the configured audience,
/// unexpired, and the configured service account as a verified `email`.
#[derive(Clone, Debug)]
pub struct PushAuth {
    audience: String,
    issuers: Vec<String>,
    service_account: String,
    keys: KeySource,
    leeway: Duration,
}

impl PushAuth {
    /// Verifies the bearer token in `headers`.
    pub async fn verify(&self, headers: &HeaderMap) -> std::result::Result<PushClaims, AuthError> {
        let header = headers
            .get(http::header::AUTHORIZATION)
            .ok_or(AuthError::MissingToken)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::MissingToken)?;
        let reject = |why: String| AuthError::Rejected(why);
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(|e| reject(format!("malformed: {e}")))?;
        if jwt_header.alg != Algorithm::RS256 {
            return Err(reject(format!(
                "algorithm {:?} is not RS256",
                jwt_header.alg
            )));
        }
        let kid = jwt_header
            .kid
            .ok_or_else(|| reject("no key id (`kid`)".into()))?;
        let key = self
            .keys
            .key(&kid)
            .await
            .map_err(AuthError::KeysUnavailable)?
            .ok_or_else(|| reject(format!("unknown key id `{kid}`")))?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&self.issuers);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        validation.leeway = self.leeway.as_secs();
        let claims = jsonwebtoken::decode::<PushClaims>(token, &key, &validation)
            .map_err(|e| reject(e.to_string()))?
            .claims;
        if claims.email != self.service_account {
            return Err(reject(format!(
                "token is for `{}`, not the push service account",
                claims.email
            )));
        }
        if !claims.email_verified {
            return Err(reject("email is not verified".into()));
        }
        Ok(claims)
    }
}

/// Builds a [`PushAuth`].
///
/// Environment (`from_env`): `ANGZARR_PUSH_AUTH__AUDIENCE`,
/// `ANGZARR_PUSH_AUTH__SERVICE_ACCOUNT`, `ANGZARR_PUSH_AUTH__ISSUER`
/// (comma-separated, default Google's), and either `ANGZARR_PUSH_AUTH__JWKS`
/// (a JWKS document) or `ANGZARR_PUSH_AUTH__JWKS_URL` (default Google's).
#[derive(Clone, Debug, Default)]
pub struct PushAuthBuilder {
    audience: Option<String>,
    issuers: Option<Vec<String>>,
    service_account: Option<String>,
    jwks: Option<String>,
    jwks_url: Option<String>,
    jwks_ttl: Option<Duration>,
    leeway: Option<Duration>,
}

impl PushAuthBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the `ANGZARR_PUSH_AUTH__*` environment variables.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(format!("ANGZARR_PUSH_AUTH__{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        Self {
            audience: var("AUDIENCE"),
            issuers: var("ISSUER").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|issuer| !issuer.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            service_account: var("SERVICE_ACCOUNT"),
            jwks: var("JWKS"),
            jwks_url: var("JWKS_URL"),
            jwks_ttl: None,
            leeway: None,
        }
    }

    /// Whether anything was configured (a receiver without push auth is
    /// built when this is false).
    pub fn is_configured(&self) -> bool {
        self.audience.is_some() || self.service_account.is_some()
    }

    /// The expected `aud` claim (the audience set on the push subscription).
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The accepted `iss` claims (default [`GOOGLE_ISSUERS`]).
    pub fn with_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// The expected `email` claim: the service account of the subscription.
    pub fn with_service_account(mut self, email: impl Into<String>) -> Self {
        self.service_account = Some(email.into());
        self
    }

    /// A static JWKS document (JSON) instead of fetching keys.
    pub fn with_jwks_json(mut self, jwks: impl Into<String>) -> Self {
        self.jwks = Some(jwks.into());
        self
    }

    /// Where to fetch the keys (default [`GOOGLE_JWKS_URL`]).
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// How long fetched keys are kept (default 1 h); an unknown key id
    /// refetches sooner.
    pub fn with_jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = Some(ttl);
        self
    }

    /// Clock skew allowed on `exp`/`iat` (default 60 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Checks the settings; errors name the key.
    pub fn build(self) -> Result<PushAuth> {
        let required = |value: Option<String>, key: &str, what: &str| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                Error::config(key, format!("{what} is required for push authentication"))
            })
        };
        let audience = required(self.audience, "push_auth.audience", "the token audience")?;
        let service_account = required(
            self.service_account,
            "push_auth.service_account",
            "the push service account email",
        )?;
        let issuers = match self.issuers {
            None => GOOGLE_ISSUERS.iter().map(|i| (*i).to_owned()).collect(),
            Some(issuers)
                if issuers.iter().all(|i| !i.trim().is_empty()) && !issuers.is_empty() =>
            {
                issuers
            }
            Some(_) => {
                return Err(Error::config(
                    "push_auth.issuer",
                    "at least one non-empty issuer is required",
                ));
            }
        };
        let keys = match (self.jwks, self.jwks_url) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "push_auth.jwks",
                    "give either static keys or a JWKS URL, not both",
                ));
            }
            (Some(json), None) => {
                let set: JwkSet = serde_json::from_str(&json).map_err(|e| {
                    Error::config("push_auth.jwks", format!("not a JWKS document: {e}"))
                })?;
                let source = KeySource::fixed(&set);
                if matches!(&source, KeySource::Static(keys) if keys.is_empty()) {
                    return Err(Error::config(
                        "push_auth.jwks",
                        "no usable key (each needs a `kid`)",
                    ));
                }
                source
            }
            (None, url) => KeySource::remote(
                url.as_deref().unwrap_or(GOOGLE_JWKS_URL),
                self.jwks_ttl.unwrap_or(Duration::from_secs(3600)),
            )?,
        };
        Ok(PushAuth {
            audience,
            issuers,
            service_account,
            keys,
            leeway: self.leeway.unwrap_or(Duration::from_secs(60)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_and_account_are_required() {
        let err = PushAuthBuilder::new()
            .with_service_account("a@b")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { ref key, .. } if key == "push_auth.audience"));
        let err = PushAuthBuilder::new()
            .with_audience("x")
            .with_service_account("a@b")
            .with_jwks_url("http://example.com/keys")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { ref key, .. } if key == "push_auth.jwks_url"));
        let err = PushAuthBuilder::new()
            .with_audience("x")
            .with_service_account("a@b")
            .with_jwks_json("{\"keys\": []}")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { ref key, .. } if key == "push_auth.jwks"));
        let err = PushAuthBuilder::new()
            .with_audience("x")
            .with_service_account("a@b")
            .with_issuers(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { ref key, .. } if key == "push_auth.issuer"));
    }

    #[test]
    fn google_keys_are_the_default() {
        let auth = PushAuthBuilder::new()
            .with_audience("x")
            .with_service_account("a@b")
            .build()
            .unwrap();
        assert!(format!("{auth:?}").contains("googleapis.com/oauth2/v3/certs"));
    }
}
