//! [`HttpTransport`]: commands sent to another service's `POST /v1/commands`
//! (the gateway contract) at an `http://` or `https://` endpoint.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use angzarr_core::error::wire;
use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_core::{Error, Result};
use angzarr_runtime::CommandTransport;
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;

/// The protobuf content type of the gateway contract.
pub const PROTOBUF: &str = "application/x-protobuf";
/// The default deadline of one command sent over HTTP.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

const BACKEND: &str = "aggregate service";

/// Sends each command as `POST {endpoint}/v1/commands` with a protobuf
/// `CommandRequest`, and reads the protobuf `CommandResponse` back. Error
/// answers become the same [`Error`] again
/// ([`angzarr_core::error::wire::error_from_http`]), so a conflict stays a
/// conflict and retriable failures stay retriable. One HTTP client (HTTP/1.1,
/// rustls with the webpki roots; http or https) is shared by every call. It
/// is made with the first command sent over HTTP: a process whose endpoints
/// are all `lambda:` or `grpc://` never builds its TLS configuration.
#[derive(Clone)]
pub struct HttpTransport {
    client: Arc<OnceLock<HttpClient>>,
    timeout: Duration,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpTransport {
    /// A transport whose client trusts the webpki roots.
    pub fn new() -> Result<Self> {
        Ok(Self {
            client: Arc::default(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
        })
    }

    /// The shared client, made on first use.
    fn client(&self) -> Result<&HttpClient> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::config("discovery", format!("TLS set-up failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(self
            .client
            .get_or_init(|| Client::builder(TokioExecutor::new()).build(connector)))
    }

    /// The deadline of one command (default [`DEFAULT_COMMAND_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn post(&self, url: &url::Url, body: Vec<u8>) -> Result<(http::StatusCode, Bytes)> {
        let target = url
            .join("v1/commands")
            .map_err(|e| Error::config("discovery", format!("bad aggregate URL `{url}`: {e}")))?;
        let request = http::Request::post(target.as_str())
            .header(http::header::CONTENT_TYPE, PROTOBUF)
            .header(http::header::ACCEPT, PROTOBUF)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::invalid_argument(format!("request to {target}: {e}")))?;
        let call = async {
            let response = self
                .client()?
                .request(request)
                .await
                .map_err(|e| Error::unavailable(BACKEND, format!("POST {target}: {e}")))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::unavailable(BACKEND, format!("reading {target}: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("POST {target}"),
            })?
    }
}

#[async_trait]
impl CommandTransport for HttpTransport {
    fn schemes(&self) -> &'static [&'static str] {
        &["http", "https"]
    }

    async fn send(
        &self,
        _domain: &str,
        endpoint: &url::Url,
        request: CommandRequest,
    ) -> Result<CommandResponse> {
        let (status, body) = self.post(endpoint, request.encode_to_vec()).await?;
        if status.is_success() {
            return Ok(CommandResponse::decode(body)?);
        }
        Err(wire::error_from_http(BACKEND, status, &body))
    }
}
