//! The public keys push tokens are checked against: a static JWKS from
//! configuration, or one fetched from a URL and cached.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_core::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::RwLock;

/// Google's JWKS for the OIDC tokens it signs (push tokens among them).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// Unknown key ids trigger a refetch at most this often, so forged tokens
/// cannot make us hammer the JWKS endpoint.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Decoding keys by key id.
type Keys = HashMap<String, Arc<DecodingKey>>;

/// Where the verification keys come from.
#[derive(Clone)]
pub(crate) enum KeySource {
    Static(Arc<Keys>),
    Remote(Arc<RemoteKeys>),
}

pub(crate) struct RemoteKeys {
    url: http::Uri,
    ttl: Duration,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    cache: RwLock<Option<(Instant, Arc<Keys>)>>,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Static(keys) => f
                .debug_tuple("Static")
                .field(&keys.keys().collect::<Vec<_>>())
                .finish(),
            KeySource::Remote(remote) => f
                .debug_struct("Remote")
                .field("url", &remote.url)
                .field("ttl", &remote.ttl)
                .finish(),
        }
    }
}

/// The RSA keys of `set` with a key id; other keys are ignored.
pub(crate) fn keys_of(set: &JwkSet) -> Keys {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, Arc::new(key)))
        })
        .collect()
}

impl KeySource {
    /// A fixed set of keys.
    pub(crate) fn fixed(set: &JwkSet) -> Self {
        KeySource::Static(Arc::new(keys_of(set)))
    }

    /// Keys fetched from `url` (https, or http on loopback) and kept for `ttl`.
    pub(crate) fn remote(url: &str, ttl: Duration) -> Result<Self> {
        let key = "push_auth.jwks_url";
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Error::config(key, format!("`{url}` is not a URL: {e}")))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return Err(Error::config(key, format!("`{url}` must be an https URL"))),
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::config(key, format!("TLS set-up failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(KeySource::Remote(Arc::new(RemoteKeys {
            url: uri,
            ttl,
            client,
            cache: RwLock::new(None),
        })))
    }

    /// The key `kid`; `Ok(None)` when no such key exists. Fetching the keys
    /// may fail with a retriable error.
    pub(crate) async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        match self {
            KeySource::Static(keys) => Ok(keys.get(kid).cloned()),
            KeySource::Remote(remote) => remote.key(kid).await,
        }
    }
}

impl RemoteKeys {
    async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        if let Some((fetched, keys)) = self.cache.read().await.as_ref() {
            let fresh = fetched.elapsed() < self.ttl;
            let recent = fetched.elapsed() < MIN_REFETCH_INTERVAL;
            match keys.get(kid) {
                Some(key) if fresh => return Ok(Some(key.clone())),
                None if recent => return Ok(None),
                _ => {}
            }
        }
        let mut cache = self.cache.write().await;
        // Another request may have refreshed the keys while we waited.
        if let Some((fetched, keys)) = cache.as_ref()
            && fetched.elapsed() < MIN_REFETCH_INTERVAL
        {
            return Ok(keys.get(kid).cloned());
        }
        let keys = Arc::new(self.fetch().await?);
        let found = keys.get(kid).cloned();
        *cache = Some((Instant::now(), keys));
        Ok(found)
    }

    async fn fetch(&self) -> Result<Keys> {
        let unavailable = |e: String| Error::unavailable("jwks", e);
        let response = self
            .client
            .get(self.url.clone())
            .await
            .map_err(|e| unavailable(format!("GET {}: {e}", self.url)))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(format!("reading {}: {e}", self.url)))?
            .to_bytes();
        if !status.is_success() {
            return Err(unavailable(format!("GET {} answered {status}", self.url)));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("{} is not a JWKS: {e}", self.url)))?;
        tracing::debug!(url = %self.url, keys = set.keys.len(), "fetched push-token keys");
        Ok(keys_of(&set))
    }
}
