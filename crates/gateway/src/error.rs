//! Error answers: always JSON, `{"error": {"code": "...", "message": "..."}}`.
//!
//! Errors from below (stores, routing, business logic) keep the stable code
//! and HTTP status of [`angzarr_core::Error::code`] and
//! [`angzarr_core::Error::http_status`]. The gateway adds a few HTTP-level
//! codes of its own: `unsupported_media_type` (415), `not_acceptable` (406),
//! `method_not_allowed` (405) and `not_found` for unknown paths (404).

use angzarr_core::Error;
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
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
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
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        serde_json::to_string(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        // Serializing two strings cannot fail; keep a valid body regardless.
        .unwrap_or_else(|_| format!(r#"{{"error":{{"code":"{}","message":""}}}}"#, self.code))
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let code = error.code();
        Self::new(code.http_status(), code.as_str(), error.to_string())
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
