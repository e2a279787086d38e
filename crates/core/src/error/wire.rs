//! [`Error`] on the wire, in both directions: one encoding and one decoding
//! for every transport, so an error that crosses a hop (HTTP, gRPC, a Lambda
//! `Invoke` answer) comes back as the same variant with the same fields.
//!
//! The wire form is [`WireError`]: the stable [`ErrorCode`], the message,
//! whether a retry may succeed, and the variant's own fields
//! ([`WireDetail`]), so `SequenceConflict { actual }` or
//! `LimitExceeded { limit, actual }` survive the trip.
//!
//! * HTTP: the body `{"error": WireError}` ([`http_body`]), read back by
//!   [`error_from_http`]. A body without a code (a proxy's HTML page) is
//!   judged by its status.
//! * gRPC: the status code of [`ErrorCode::grpc_code`] with the wire form
//!   as JSON in the binary metadata [`GRPC_METADATA_KEY`]
//!   ([`grpc_status`]), read back by [`error_from_status`]. A status without
//!   it (business logic in another language) is judged by its code, the way
//!   the angzarr client libraries use codes.
//! * Lambda `Invoke`: the answer's `error` member is a [`WireError`].
//!
//! ```
//! use angzarr_core::Error;
//! use angzarr_core::error::wire;
//!
//! let conflict = Error::SequenceConflict { key: "cart#1".into(), expected: 2, actual: 5 };
//! let status = wire::grpc_status(&conflict);
//! match wire::error_from_status("aggregate cart", status) {
//!     Error::SequenceConflict { actual, .. } => assert_eq!(actual, 5),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic::metadata::{MetadataMap, MetadataValue};

use super::{Error, ErrorCode, Name};

/// The gRPC binary metadata entry that carries the [`WireError`] as JSON.
pub const GRPC_METADATA_KEY: &str = "angzarr-error-bin";

/// The largest wire form sent in gRPC metadata: headers are limited (16 KiB
/// by default in HTTP/2), and the message travels in `grpc-message` anyway.
const MAX_GRPC_METADATA_BYTES: usize = 8 * 1024;

/// An [`Error`] as it crosses a transport.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// The stable code ([`ErrorCode::as_str`]).
    pub code: String,
    /// What went wrong, for people (the error's `Display`).
    pub message: String,
    /// Whether the same request may succeed if tried again.
    pub retriable: bool,
    /// The variant and its fields; absent when the sender is not angzarr
    /// (then the error is rebuilt from the code and message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<WireDetail>,
}

/// The fields of each [`Error`] variant, as written on the wire
/// (`{"variant": "sequence_conflict", "key": ..., "expected": ..., "actual": ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "variant", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)] // each variant mirrors the `Error` variant of its name
pub enum WireDetail {
    SequenceConflict {
        key: String,
        expected: u32,
        actual: u32,
    },
    LimitExceeded {
        what: String,
        limit: u64,
        actual: u64,
    },
    InvalidArgument {
        message: String,
    },
    NotFound {
        message: String,
    },
    LeaseLost {
        key: String,
    },
    Rejected {
        reason: String,
    },
    Corrupt {
        message: String,
    },
    RateLimited {
        retry_after_ms: u64,
    },
    Config {
        key: String,
        message: String,
    },
    Unsupported {
        backend: String,
        operation: String,
    },
    Unavailable {
        backend: String,
        /// The underlying error's message.
        source: String,
    },
    Timeout {
        what: String,
    },
    Backend {
        backend: String,
        message: String,
        retriable: bool,
    },
}

impl From<&Error> for WireError {
    fn from(error: &Error) -> Self {
        let detail = match error {
            Error::SequenceConflict {
                key,
                expected,
                actual,
            } => WireDetail::SequenceConflict {
                key: key.clone(),
                expected: *expected,
                actual: *actual,
            },
            Error::LimitExceeded {
                what,
                limit,
                actual,
            } => WireDetail::LimitExceeded {
                what: what.to_string(),
                limit: *limit,
                actual: *actual,
            },
            Error::InvalidArgument(message) => WireDetail::InvalidArgument {
                message: message.clone(),
            },
            Error::NotFound(message) => WireDetail::NotFound {
                message: message.clone(),
            },
            Error::LeaseLost { key } => WireDetail::LeaseLost { key: key.clone() },
            Error::Rejected { reason } => WireDetail::Rejected {
                reason: reason.clone(),
            },
            Error::Corrupt(message) => WireDetail::Corrupt {
                message: message.clone(),
            },
            Error::RateLimited { retry_after } => WireDetail::RateLimited {
                retry_after_ms: u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            },
            Error::Config { key, message } => WireDetail::Config {
                key: key.clone(),
                message: message.clone(),
            },
            Error::Unsupported { backend, operation } => WireDetail::Unsupported {
                backend: backend.to_string(),
                operation: operation.to_string(),
            },
            Error::Unavailable { backend, source } => WireDetail::Unavailable {
                backend: backend.to_string(),
                source: source.to_string(),
            },
            Error::Timeout { what } => WireDetail::Timeout { what: what.clone() },
            Error::Backend {
                backend,
                message,
                retriable,
            } => WireDetail::Backend {
                backend: backend.to_string(),
                message: message.clone(),
                retriable: *retriable,
            },
        };
        WireError {
            code: error.code().as_str().to_owned(),
            message: error.to_string(),
            retriable: error.is_retriable(),
            detail: Some(detail),
        }
    }
}

impl WireError {
    /// The error it stands for: exactly the variant and fields of its
    /// [`WireDetail`]; without one, the closest variant to its code (an
    /// unknown code is a backend error of `sender`, keeping `retriable`).
    pub fn into_error(self, sender: &str) -> Error {
        match self.detail {
            Some(detail) => detail.into_error(),
            None => from_code(sender, &self.code, self.message, self.retriable),
        }
    }
}

impl WireDetail {
    fn into_error(self) -> Error {
        match self {
            WireDetail::SequenceConflict {
                key,
                expected,
                actual,
            } => Error::SequenceConflict {
                key,
                expected,
                actual,
            },
            WireDetail::LimitExceeded {
                what,
                limit,
                actual,
            } => Error::LimitExceeded {
                what: what.into(),
                limit,
                actual,
            },
            WireDetail::InvalidArgument { message } => Error::InvalidArgument(message),
            WireDetail::NotFound { message } => Error::NotFound(message),
            WireDetail::LeaseLost { key } => Error::LeaseLost { key },
            WireDetail::Rejected { reason } => Error::Rejected { reason },
            WireDetail::Corrupt { message } => Error::Corrupt(message),
            WireDetail::RateLimited { retry_after_ms } => Error::RateLimited {
                retry_after: Duration::from_millis(retry_after_ms),
            },
            WireDetail::Config { key, message } => Error::Config { key, message },
            WireDetail::Unsupported { backend, operation } => Error::Unsupported {
                backend: backend.into(),
                operation: operation.into(),
            },
            WireDetail::Unavailable { backend, source } => Error::unavailable(backend, source),
            WireDetail::Timeout { what } => Error::Timeout { what },
            WireDetail::Backend {
                backend,
                message,
                retriable,
            } => Error::Backend {
                backend: backend.into(),
                message,
                retriable,
            },
        }
    }
}

/// The error a bare code and message stand for, from a sender that is not
/// angzarr (or an older one): no fields beyond the message are known.
fn from_code(sender: &str, code: &str, message: String, retriable: bool) -> Error {
    let sender: Name = sender.to_owned().into();
    let Ok(code) = code.parse::<ErrorCode>() else {
        return Error::backend(sender, format!("{code}: {message}"), retriable);
    };
    match code {
        ErrorCode::InvalidArgument => Error::InvalidArgument(message),
        ErrorCode::NotFound => Error::NotFound(message),
        ErrorCode::Rejected => Error::Rejected { reason: message },
        ErrorCode::Corrupt => Error::Corrupt(message),
        ErrorCode::LeaseLost => Error::LeaseLost { key: message },
        ErrorCode::Timeout => Error::Timeout { what: message },
        ErrorCode::Unavailable => Error::unavailable(sender, message),
        ErrorCode::RateLimited => Error::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        // The fields that make these useful are unknown: keep the code in
        // the message and the sender's retriability.
        ErrorCode::Config
        | ErrorCode::SequenceConflict
        | ErrorCode::LimitExceeded
        | ErrorCode::Unsupported
        | ErrorCode::Internal => Error::backend(sender, format!("{code}: {message}"), retriable),
    }
}

/// The JSON body of an HTTP error answer: `{"error": WireError}`.
pub fn http_body(error: &Error) -> String {
    #[derive(Serialize)]
    struct Body {
        error: WireError,
    }
    serde_json::to_string(&Body {
        error: WireError::from(error),
    })
    // Strings, numbers and booleans always serialize; keep a valid body regardless.
    .unwrap_or_else(|_| format!(r#"{{"error":{{"code":"{}"}}}}"#, error.code()))
}

/// The error an HTTP error answer stands for: its body's `error` member when
/// it is a [`WireError`] (or a bare `{"code", "message"}`), else judged by
/// `status` (a 502/503/504/429 from a proxy is retriable). `sender` names
/// the service in the error.
pub fn error_from_http(sender: &str, status: http::StatusCode, body: &[u8]) -> Error {
    #[derive(Deserialize)]
    struct Body {
        error: Loose,
    }
    #[derive(Deserialize)]
    struct Loose {
        code: String,
        #[serde(default)]
        message: String,
        retriable: Option<bool>,
        #[serde(default)]
        detail: Option<WireDetail>,
    }
    let by_status_retriable = matches!(
        status,
        http::StatusCode::SERVICE_UNAVAILABLE
            | http::StatusCode::GATEWAY_TIMEOUT
            | http::StatusCode::BAD_GATEWAY
            | http::StatusCode::TOO_MANY_REQUESTS
    );
    if let Ok(Body { error }) = serde_json::from_slice::<Body>(body) {
        return WireError {
            code: error.code,
            message: error.message,
            retriable: error.retriable.unwrap_or(by_status_retriable),
            detail: error.detail,
        }
        .into_error(sender);
    }
    let message = format!(
        "{sender} answered {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status == http::StatusCode::NOT_FOUND {
        Error::NotFound(message)
    } else if status == http::StatusCode::TOO_MANY_REQUESTS {
        Error::RateLimited {
            retry_after: Duration::from_secs(1),
        }
    } else if status.is_client_error() {
        Error::InvalidArgument(message)
    } else {
        Error::backend(sender.to_owned(), message, by_status_retriable)
    }
}

/// The gRPC status of an error: [`ErrorCode::grpc_code`], the message, and
/// the [`WireError`] in the [`GRPC_METADATA_KEY`] metadata.
pub fn grpc_status(error: &Error) -> tonic::Status {
    let mut metadata = MetadataMap::new();
    let json = serde_json::to_vec(&WireError::from(error)).unwrap_or_default();
    if !json.is_empty() && json.len() <= MAX_GRPC_METADATA_BYTES {
        metadata.insert_bin(GRPC_METADATA_KEY, MetadataValue::from_bytes(&json));
    }
    tonic::Status::with_metadata(error.code().grpc_code(), error.to_string(), metadata)
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        grpc_status(&error)
    }
}

/// The error a gRPC status stands for. With the [`GRPC_METADATA_KEY`]
/// metadata (another angzarr host), exactly the error sent. Without it
/// (business logic in any language), by code: FAILED_PRECONDITION,
/// ABORTED, OUT_OF_RANGE and ALREADY_EXISTS are the handler refusing the
/// command (a rejection), INVALID_ARGUMENT a malformed command, UNAVAILABLE,
/// RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED a service that is down or slow
/// (retriable), UNIMPLEMENTED a call the service does not offer
/// ([`Error::Unsupported`]); any other code is a backend error of `service`.
pub fn error_from_status(service: &str, status: tonic::Status) -> Error {
    let sent = status
        .metadata()
        .get_bin(GRPC_METADATA_KEY)
        .and_then(|value| value.to_bytes().ok())
        .and_then(|json| serde_json::from_slice::<WireError>(&json).ok());
    if let Some(wire) = sent {
        return wire.into_error(service);
    }
    let message = status.message().to_owned();
    let service_name: Name = service.to_owned().into();
    match status.code() {
        Code::FailedPrecondition | Code::Aborted | Code::OutOfRange | Code::AlreadyExists => {
            Error::Rejected { reason: message }
        }
        Code::InvalidArgument => Error::InvalidArgument(message),
        Code::NotFound => Error::NotFound(message),
        Code::DeadlineExceeded | Code::Cancelled => Error::Timeout {
            what: service.to_owned(),
        },
        Code::Unavailable | Code::ResourceExhausted => {
            Error::unavailable(service_name, format!("{service}: {message}"))
        }
        Code::Unimplemented => Error::Unsupported {
            backend: service_name,
            operation: format!("this call ({message})").into(),
        },
        code => Error::backend(
            service_name,
            format!("{service}: {code:?}: {message}"),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_status_from_business_logic_maps_by_code() {
        let rejected = error_from_status("cart", tonic::Status::failed_precondition("empty"));
        assert!(matches!(rejected, Error::Rejected { ref reason } if reason == "empty"));
        let down = error_from_status("cart", tonic::Status::unavailable("down"));
        assert!(down.is_retriable());
        assert_eq!(down.code(), ErrorCode::Unavailable);
        let slow = error_from_status("cart", tonic::Status::deadline_exceeded("slow"));
        assert_eq!(slow.code(), ErrorCode::Timeout);
        let bad = error_from_status("cart", tonic::Status::invalid_argument("no such type"));
        assert_eq!(bad.code(), ErrorCode::InvalidArgument);
        let missing = error_from_status("cart", tonic::Status::unimplemented("Method not found!"));
        assert_eq!(missing.code(), ErrorCode::Unsupported);
        assert!(
            missing.to_string().contains("Method not found!"),
            "{missing}"
        );
        // A code no handler should send is an error, never a panic.
        let odd = error_from_status("cart", tonic::Status::new(Code::Unknown, "?"));
        assert_eq!(odd.code(), ErrorCode::Internal);
        // Garbage in the metadata falls back to the code.
        let mut garbage = tonic::Status::failed_precondition("no");
        garbage
            .metadata_mut()
            .insert_bin(GRPC_METADATA_KEY, MetadataValue::from_bytes(b"{not json"));
        assert_eq!(
            error_from_status("cart", garbage).code(),
            ErrorCode::Rejected
        );
    }

    #[test]
    fn a_bare_or_foreign_http_answer_maps_by_code_then_status() {
        let bare = br#"{"error":{"code":"rejected","message":"no"}}"#;
        let back = error_from_http("gateway", http::StatusCode::UNPROCESSABLE_ENTITY, bare);
        assert!(matches!(back, Error::Rejected { ref reason } if reason == "no"));
        let unknown = br#"{"error":{"code":"teapot","message":"short and stout"}}"#;
        let back = error_from_http("gateway", http::StatusCode::IM_A_TEAPOT, unknown);
        assert_eq!(back.code(), ErrorCode::Internal);
        assert!(back.to_string().contains("teapot"), "{back}");

        let proxy = error_from_http("gateway", http::StatusCode::BAD_GATEWAY, b"<html>");
        assert!(proxy.is_retriable());
        let missing = error_from_http("gateway", http::StatusCode::NOT_FOUND, b"");
        assert_eq!(missing.code(), ErrorCode::NotFound);
        let crash = error_from_http("gateway", http::StatusCode::INTERNAL_SERVER_ERROR, b"oops");
        assert!(!crash.is_retriable());
        let bad = error_from_http("gateway", http::StatusCode::BAD_REQUEST, b"bad");
        assert_eq!(bad.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn a_conflict_keeps_its_actual_sequence_in_the_json_body() {
        let body = http_body(&Error::SequenceConflict {
            key: "cart#1".into(),
            expected: 2,
            actual: 5,
        });
        let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(value["error"]["code"], "sequence_conflict");
        assert_eq!(value["error"]["retriable"], false);
        assert_eq!(value["error"]["detail"]["variant"], "sequence_conflict");
        assert_eq!(value["error"]["detail"]["actual"], 5);
    }
}
