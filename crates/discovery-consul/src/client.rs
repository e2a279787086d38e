//! The HTTP client: `GET`s against the Consul agent with the ACL token, a
//! timeout, and one mapping of failures into [`angzarr_core::Error`].

use std::time::Duration;

use angzarr_core::config::Secret;
use angzarr_core::{Error, Result};
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

/// The backend name in errors.
pub(crate) const BACKEND: &str = "consul";

/// Talks to one Consul agent over HTTP/1.1 (connections are kept alive).
#[derive(Clone, Debug)]
pub(crate) struct ConsulClient {
    http: Client<HttpConnector, Empty<Bytes>>,
    /// `http://host:port`, without a trailing slash.
    base: String,
    token: Option<Secret>,
    timeout: Duration,
}

impl ConsulClient {
    pub(crate) fn new(base: String, token: Option<Secret>, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            base,
            token,
            timeout,
        }
    }

    /// `GET {base}{path_and_query}` decoded as JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T> {
        let uri: Uri = format!("{}{path_and_query}", self.base)
            .parse()
            .map_err(|e| {
                Error::invalid_argument(format!("bad Consul path `{path_and_query}`: {e}"))
            })?;
        let mut request = Request::get(uri);
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token.expose());
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| Error::backend(BACKEND, e.to_string(), false))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| Error::unavailable(BACKEND, e))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::unavailable(BACKEND, e))?
                .to_bytes();
            Ok::<_, Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                Error::unavailable(
                    BACKEND,
                    format!(
                        "no answer to GET {path_and_query} within {:?}",
                        self.timeout
                    ),
                )
            })??;
        if !status.is_success() {
            return Err(from_status(status, path_and_query, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Error::backend(
                BACKEND,
                format!("GET {path_and_query}: unexpected answer: {e}"),
                false,
            )
        })
    }
}

/// An error status: 429 and 5xx are retriable (an agent restarting, a lost
/// leader); 401/403 mean the ACL token is missing or lacks `service:read` /
/// `node:read`, which retrying will not fix.
fn from_status(status: StatusCode, path: &str, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_owned();
    let message = format!("GET {path}: {status}: {text}");
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Error::unavailable(BACKEND, message)
    } else {
        Error::backend(BACKEND, message, false)
    }
}
