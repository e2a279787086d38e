//! Error answers: always JSON, `{"error": {"code": "...", "message": "...",
//! "retriable": ..., "detail": {...}}}` — the wire form of
//! [`angzarr_core::error::wire`], so a client (or another host) reads back
//! the same error, `SequenceConflict { actual }` included.
//!
//! Errors from below (stores, routing, business logic) keep the stable code
//! and HTTP status of [`angzarr_core::Error::code`] and
//! [`angzarr_core::Error::http_status`]. The gateway adds a few HTTP-level
//! codes of its own: `unsupported_media_type` (415), `not_acceptable` (406),
//! `method_not_allowed` (405) and `not_found` for unknown paths (404).

use angzarr_core::Error;
use angzarr_core::error::wire::{WireDetail, WireError};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The JSON content type.
pub(crate) const JSON: &str = "application/json";

/// An error answer: an HTTP status, a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The stable, machine-readable code (`invalid_argument`, `rejected`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Whether the same request may succeed if tried again.
    pub retriable: bool,
    /// The error's own fields, when it comes from an [`Error`].
    pub detail: Option<WireDetail>,
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retriable: false,
            detail: None,
        }
    }

    /// A malformed or incomplete request (400, `invalid_argument`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::invalid_argument(message).into()
    }

    /// A request body over `limit` bytes (413, `limit_exceeded`).
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            angzarr_core::ErrorCode::LimitExceeded.as_str(),
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// The JSON body of this error.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Body {
            error: WireError,
        }
        serde_json::to_string(&Body {
            error: WireError {
                code: self.code.to_owned(),
                message: self.message.clone(),
                retriable: self.retriable,
                detail: self.detail.clone(),
            },
        })
        // Strings, numbers and booleans always serialize; keep a valid body regardless.
        .unwrap_or_else(|_| format!(r#"{{"error":{{"code":"{}","message":""}}}}"#, self.code))
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let code = error.code();
        let wire = WireError::from(&error);
        Self {
            status: code.http_status(),
            code: code.as_str(),
            message: wire.message,
            retriable: wire.retriable,
            detail: wire.detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let mut response = (self.status, self.body()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        response
    }
}

/// Unknown paths.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
}

/// Known paths asked with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not answer that method",
    )
}

#[cfg(test)]
mod tests {
    use angzarr_core::error::wire;
    use angzarr_testkit::errors::{every_variant, observed};

    use super::*;

    #[test]
    fn every_error_answer_reads_back_as_the_same_error() {
        for error in every_variant() {
            let expected = observed(&error);
            let status = error.http_status();
            let answer = ApiError::from(error);
            assert_eq!(answer.status, status);
            let body = answer.body();
            let back = wire::error_from_http("gateway", answer.status, body.as_bytes());
            assert_eq!(observed(&back), expected, "{body}");
        }
    }

    #[test]
    fn gateway_codes_have_the_same_shape() {
        let body = ApiError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", "no").body();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(value["error"]["code"], "not_acceptable");
        assert_eq!(value["error"]["message"], "no");
        assert_eq!(value["error"]["retriable"], false);
    }
}
