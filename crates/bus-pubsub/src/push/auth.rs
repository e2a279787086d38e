//! Verification of the OIDC token Pub/Sub puts on push requests
//! (`Authorization: Bearer <JWT>`), and its configuration.

use std::fmt;
use std::time::Duration;

use angzarr_core::config::{Config, section};
use angzarr_core::{Error, Result};
use figment::Figment;
use http::HeaderMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

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

/// The `push_auth` section of the configuration tree: how push requests are
/// authenticated. Nothing set means no authentication; each key is also an
/// `ANGZARR_PUSH_AUTH__<KEY>` variable.
///
/// ```yaml
/// push_auth:
///   audience: https://my-service-xyz.a.run.app/push/events
///   service_account: pubsub-push@my-project.iam.gserviceaccount.com
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushAuthConfig {
    /// The expected `aud` claim (the audience set on the push subscription).
    pub audience: Option<String>,
    /// The expected `email` claim: the push subscription's service account.
    pub service_account: Option<String>,
    /// The accepted `iss` claims, comma-separated (default
    /// [`GOOGLE_ISSUERS`]).
    pub issuer: Option<String>,
    /// A static JWKS document (JSON) instead of fetching keys.
    pub jwks: Option<String>,
    /// Where to fetch the keys (default [`GOOGLE_JWKS_URL`]).
    pub jwks_url: Option<String>,
    /// How long fetched keys are kept, in seconds (default 3600).
    pub jwks_ttl_secs: Option<u64>,
    /// Clock skew allowed on `exp`/`iat`, in seconds (default 60).
    pub leeway_secs: Option<u64>,
}

impl PushAuthConfig {
    /// The `push_auth` section of `figment` over its defaults; an unknown key
    /// or a value of the wrong kind fails, naming `push_auth.<key>`.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        section(figment, "push_auth")
    }
}

/// Builds a [`PushAuth`].
///
/// From the `push_auth` section of the configuration tree
/// ([`PushAuthConfig`]: the `$ANGZARR_CONFIG` file and the
/// `ANGZARR_PUSH_AUTH__*` variables) with [`PushAuthBuilder::from_config`],
/// [`PushAuthBuilder::from_figment`] or [`PushAuthBuilder::from_env`], or in
/// code with the setters.
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

    /// A builder from the `push_auth` section. Empty values count as unset;
    /// `issuer` is split at commas.
    pub fn from_config(config: &PushAuthConfig) -> Self {
        let text = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        Self {
            audience: text(&config.audience),
            issuers: text(&config.issuer).map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|issuer| !issuer.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            service_account: text(&config.service_account),
            jwks: text(&config.jwks),
            jwks_url: text(&config.jwks_url),
            jwks_ttl: config.jwks_ttl_secs.map(Duration::from_secs),
            leeway: config.leeway_secs.map(Duration::from_secs),
        }
    }

    /// A builder from the `push_auth` section of `figment` (one already
    /// loaded, e.g. with [`Config::figment`]); an unknown key or a value of
    /// the wrong kind fails, naming `push_auth.<key>`.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        Ok(Self::from_config(&PushAuthConfig::from_figment(figment)?))
    }

    /// [`PushAuthBuilder::from_figment`] over the loaded configuration tree
    /// ([`Config::figment`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_PUSH_AUTH__*` variables).
    pub fn from_env() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
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
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::providers::{Format, Yaml};

    fn tree(yaml: &str) -> Figment {
        Figment::new().merge(Yaml::string(yaml))
    }

    #[test]
    fn the_section_reaches_the_builder() {
        let builder = PushAuthBuilder::from_figment(&tree(
            "push_auth: { audience: a, service_account: s, issuer: 'https://issuer.example, other', jwks_ttl_secs: 5, leeway_secs: 2 }",
        ))
        .unwrap();
        assert!(builder.is_configured());
        assert_eq!(builder.audience.as_deref(), Some("a"));
        assert_eq!(builder.service_account.as_deref(), Some("s"));
        assert_eq!(
            builder.issuers,
            Some(vec![
                "https://issuer.example".to_owned(),
                "other".to_owned()
            ])
        );
        assert_eq!(builder.jwks_ttl, Some(Duration::from_secs(5)));
        assert_eq!(builder.leeway, Some(Duration::from_secs(2)));
        let auth = builder.build().unwrap();
        assert_eq!(auth.leeway, Duration::from_secs(2));

        // No section, or empty values: not configured.
        assert!(
            !PushAuthBuilder::from_figment(&tree(""))
                .unwrap()
                .is_configured()
        );
        assert!(
            !PushAuthBuilder::from_figment(&tree("push_auth: { audience: '' }"))
                .unwrap()
                .is_configured()
        );
    }

    #[test]
    fn a_misspelt_key_names_it() {
        match PushAuthBuilder::from_figment(&tree("push_auth: { audiance: a }")) {
            Err(Error::Config { key, .. }) => assert_eq!(key, "push_auth.audiance"),
            other => panic!("expected a config error, got {other:?}"),
        }
        match PushAuthBuilder::from_figment(&tree("push_auth: { leeway_secs: soon }")) {
            Err(Error::Config { key, .. }) => assert_eq!(key, "push_auth.leeway_secs"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn from_env_reads_the_variables_of_the_tree() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("angzarr.yaml", "push_auth: { audience: from-file }")?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env(
                "ANGZARR_PUSH_AUTH__SERVICE_ACCOUNT",
                "push@p.iam.gserviceaccount.com",
            );
            jail.set_env(
                "ANGZARR_PUSH_AUTH__ISSUER",
                "https://accounts.google.com,accounts.google.com",
            );
            jail.set_env(
                "ANGZARR_PUSH_AUTH__JWKS",
                r#"{"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "n": "sXch", "e": "AQAB"}]}"#,
            );
            let builder = PushAuthBuilder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.audience.as_deref(), Some("from-file"));
            assert_eq!(
                builder.service_account.as_deref(),
                Some("push@p.iam.gserviceaccount.com")
            );
            assert_eq!(builder.issuers.as_ref().map(Vec::len), Some(2));
            assert!(
                builder
                    .jwks
                    .as_deref()
                    .is_some_and(|j| j.contains("\"k1\""))
            );
            jail.set_env("ANGZARR_PUSH_AUTH__AUDIENCE", "from-env");
            let builder = PushAuthBuilder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.audience.as_deref(), Some("from-env"));
            jail.set_env("ANGZARR_PUSH_AUTH__JWKS_TTL", "60");
            match PushAuthBuilder::from_env() {
                Err(Error::Config { key, .. }) => assert_eq!(key, "push_auth.jwks_ttl"),
                other => panic!("expected a config error, got {other:?}"),
            }
            Ok(())
        });
    }

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
