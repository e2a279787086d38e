//! [`HttpCommandRouter`]: commands sent to another Cloud Run service's
//! `POST /v1/commands` (the gateway contract), found through service discovery.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_core::{Error, Result, ServiceDiscovery};
use angzarr_runtime::CommandRouter;
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

/// Sends each command as `POST {aggregate url}/v1/commands` with a protobuf
/// `CommandRequest`, and reads the protobuf `CommandResponse` back. Error
/// answers (`{"error":{"code","message"}}`) become the [`Error`] of the same
/// code, so retriable failures stay retriable. One HTTP client (HTTP/1.1,
/// rustls with the webpki roots; http or https) is shared by every call.
#[derive(Clone)]
pub struct HttpCommandRouter {
    discovery: Arc<dyn ServiceDiscovery>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl fmt::Debug for HttpCommandRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCommandRouter")
            .field("discovery", &self.discovery)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpCommandRouter {
    /// Routes through `discovery`.
    pub fn new(discovery: Arc<dyn ServiceDiscovery>) -> Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::config("cloudrun", format!("TLS set-up failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            discovery,
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout: DEFAULT_COMMAND_TIMEOUT,
        })
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
                .client
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
impl CommandRouter for HttpCommandRouter {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        let domain = request
            .command
            .as_ref()
            .and_then(|c| c.cover.as_ref())
            .map(|c| c.domain.clone())
            .ok_or_else(|| Error::invalid_argument("command has no cover"))?;
        let url = self.discovery.aggregate(&domain).await?;
        let (status, body) = self.post(&url, request.encode_to_vec()).await?;
        if status.is_success() {
            return Ok(CommandResponse::decode(body)?);
        }
        Err(error_of(status, &body))
    }
}

/// The [`Error`] an error answer stands for: by its JSON `code`, else by status.
pub fn error_of(status: http::StatusCode, body: &[u8]) -> Error {
    let parsed: Option<(String, String)> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            let error = value.get("error").unwrap_or(&value);
            let code = error.get("code")?.as_str()?.to_owned();
            let message = error
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned();
            Some((code, message))
        });
    let (code, message) = parsed.unwrap_or_else(|| {
        (
            String::new(),
            format!("answered {status}: {}", String::from_utf8_lossy(body)),
        )
    });
    match code.as_str() {
        "invalid_argument" => Error::InvalidArgument(message),
        "not_found" => Error::NotFound(message),
        "rejected" => Error::Rejected { reason: message },
        "rate_limited" => Error::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        "unavailable" | "lease_lost" => Error::unavailable(BACKEND, message),
        "timeout" => Error::Timeout { what: message },
        "sequence_conflict" | "limit_exceeded" | "corrupt" | "config" | "unsupported" => {
            Error::backend(BACKEND, format!("{code}: {message}"), false)
        }
        _ => {
            // No JSON code: judge by the status.
            let retriable = matches!(
                status,
                http::StatusCode::SERVICE_UNAVAILABLE
                    | http::StatusCode::GATEWAY_TIMEOUT
                    | http::StatusCode::BAD_GATEWAY
                    | http::StatusCode::TOO_MANY_REQUESTS
            );
            if status == http::StatusCode::NOT_FOUND {
                Error::NotFound(message)
            } else if status.is_client_error() && !retriable {
                Error::InvalidArgument(message)
            } else {
                Error::backend(BACKEND, message, retriable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_keep_their_code_and_retriability() {
        let body = br#"{"error":{"code":"rejected","message":"no"}}"#;
        assert!(matches!(
            error_of(http::StatusCode::UNPROCESSABLE_ENTITY, body),
            Error::Rejected { reason } if reason == "no"
        ));
        let body = br#"{"error":{"code":"unavailable","message":"down"}}"#;
        assert!(error_of(http::StatusCode::SERVICE_UNAVAILABLE, body).is_retriable());
        assert!(error_of(http::StatusCode::BAD_GATEWAY, b"<html>").is_retriable());
        let internal = error_of(http::StatusCode::INTERNAL_SERVER_ERROR, b"oops");
        assert!(!internal.is_retriable());
        assert!(matches!(
            error_of(http::StatusCode::BAD_REQUEST, b"bad"),
            Error::InvalidArgument(_)
        ));
    }
}
