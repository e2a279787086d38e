//! [`PushReceiver`]: the axum endpoint Pub/Sub pushes deliveries to.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use angzarr_core::{Delivery, PayloadStore, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use tower_http::limit::RequestBodyLimitLayer;

use super::auth::{AuthError, PushAuth};
use super::envelope::PushEnvelope;

/// A 10 MB message grows by a third in base64, plus the envelope.
pub const DEFAULT_BODY_LIMIT: usize = 14 * 1024 * 1024;

/// The work done for one pushed delivery. Any `Fn(Delivery) -> impl Future<Output = Result<()>>`
/// is one.
pub trait PushHandler: Send + Sync + 'static {
    /// Handles `delivery`; `Ok` acknowledges it, an error makes Pub/Sub retry.
    fn handle(&self, delivery: Delivery) -> BoxFuture<'static, Result<()>>;
}

impl<F, Fut> PushHandler for F
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    fn handle(&self, delivery: Delivery) -> BoxFuture<'static, Result<()>> {
        Box::pin(self(delivery))
    }
}

/// Receives Pub/Sub push requests: checks the token (when configured),
/// decodes the envelope and the event book, runs the handler, and answers
///
/// - `200` only after the handler succeeded (Pub/Sub then acknowledges);
/// - `503` when the handler failed with a retriable error, `500` for any
///   other handler error (both make Pub/Sub deliver again);
/// - `400` `{"code":"invalid_argument","message":..}` for a malformed
///   envelope or a body that is not an event book;
/// - `401` `{"code":"unauthenticated","message":..}` for a missing or bad token;
/// - `413` for a body over the limit.
#[derive(Clone)]
pub struct PushReceiver {
    handler: Arc<dyn PushHandler>,
    auth: Option<PushAuth>,
    payloads: Option<Arc<dyn PayloadStore>>,
    body_limit: usize,
}

impl fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushReceiver")
            .field("auth", &self.auth)
            .field("payload_store", &self.payloads)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl PushReceiver {
    /// A receiver calling `handler`, without authentication.
    pub fn new(handler: impl PushHandler) -> Self {
        Self {
            handler: Arc::new(handler),
            auth: None,
            payloads: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Requires a valid push token on every request.
    pub fn with_auth(mut self, auth: PushAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Resolves offloaded pages from `store` before calling the handler.
    pub fn with_payload_store(mut self, store: Arc<dyn PayloadStore>) -> Self {
        self.payloads = Some(store);
        self
    }

    /// The largest request body accepted (default [`DEFAULT_BODY_LIMIT`]).
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// A router answering `POST {path}`.
    pub fn router(self, path: &str) -> Router {
        let limit = self.body_limit;
        Router::new()
            .route(path, post(receive))
            .with_state(Arc::new(self))
            // axum's own 2 MB default would cut large messages: the
            // tower-http limit below is the one that applies.
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(limit))
    }

    /// Handles one push request.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        if let Some(auth) = &self.auth
            && let Err(error) = auth.verify(headers).await
        {
            let message_id = PushEnvelope::message_id_of(body).unwrap_or_default();
            return match error {
                AuthError::KeysUnavailable(e) => {
                    tracing::error!(message_id, error = %e, "push token keys unavailable");
                    reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        &e.to_string(),
                    )
                }
                other => {
                    tracing::warn!(message_id, error = %other, "push request not authenticated");
                    reply(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        &other.to_string(),
                    )
                }
            };
        }
        let envelope = match PushEnvelope::parse(body) {
            Ok(envelope) => envelope,
            Err(error) => return malformed(PushEnvelope::message_id_of(body), &error),
        };
        let message_id = envelope.message.message_id.clone();
        let delivery = match envelope.into_delivery(self.payloads.as_deref()).await {
            Ok(delivery) => delivery,
            // An offloaded payload that cannot be fetched now may be later.
            Err(error) if error.is_retriable() => {
                tracing::error!(message_id, error = %error, "push payload unavailable");
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code().as_str(),
                    &error.to_string(),
                );
            }
            Err(error) => return malformed(Some(message_id), &error),
        };
        let attempt = delivery.attempt;
        match self.handler.handle(delivery).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(error) => {
                tracing::error!(message_id, attempt, error = %error, "push handler failed; Pub/Sub will retry");
                let status = if error.is_retriable() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                reply(status, error.code().as_str(), &error.to_string())
            }
        }
    }
}

async fn receive(
    State(receiver): State<Arc<PushReceiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receiver.handle(&headers, &body).await
}

fn malformed(message_id: Option<String>, error: &angzarr_core::Error) -> Response {
    let message_id = message_id.unwrap_or_default();
    tracing::warn!(message_id, error = %error, "malformed push request");
    reply(
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        &error.to_string(),
    )
}

fn reply(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    (status, axum::Json(body)).into_response()
}
