//! One error type for every layer below the runtime, with one mapping to gRPC
//! status and one to HTTP status, and one wire form ([`wire`]) that carries it
//! across every transport and back.

pub mod wire;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A boxed error from a backend's SDK.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A name that is usually a literal (`"dynamodb"`, `"event bytes"`) but may
/// come from the wire, where it is owned.
pub type Name = Cow<'static, str>;

/// The result type of every Angzarr trait.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a store, bus, guard, limiter or discovery.
///
/// Adapters convert their SDK errors into this in one `From` each; callers use
/// [`Error::is_retriable`] to decide whether to try again and
/// [`Error::code`] / [`Error::http_status`] / `tonic::Status::from` to answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An append expected a next sequence the aggregate no longer has.
    #[error("sequence conflict on {key}: expected next sequence {expected}, actual is {actual}")]
    SequenceConflict {
        /// The aggregate (`domain#root`).
        key: String,
        /// The next sequence the writer expected.
        expected: u32,
        /// The aggregate's actual next sequence: retry from here.
        actual: u32,
    },
    /// A request is larger than a backend accepts; nothing was written.
    #[error("{what} exceeds the limit: {actual} > {limit}")]
    LimitExceeded {
        /// What was too large, e.g. `events per append` or `event bytes`.
        what: Name,
        /// The backend's limit.
        limit: u64,
        /// The size of the request.
        actual: u64,
    },
    /// The input is malformed or incomplete (a missing cover, a bad UUID, undecodable bytes).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The thing asked for does not exist (e.g. no endpoint for a domain).
    #[error("not found: {0}")]
    NotFound(String),
    /// A firing-guard lease expired and was taken over before it was completed or released.
    #[error("lease on `{key}` is no longer held by this holder")]
    LeaseLost {
        /// The guarded key.
        key: String,
    },
    /// Business logic refused a command.
    #[error("rejected: {reason}")]
    Rejected {
        /// Why, as the business logic said it.
        reason: String,
    },
    /// Stored data does not match what was written (e.g. an offloaded
    /// payload whose hash differs from its reference).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A rate limit was reached.
    #[error("rate limit reached, retry after {retry_after:?}")]
    RateLimited {
        /// When the current window ends.
        retry_after: Duration,
    },
    /// A configuration value is missing or wrong.
    #[error("configuration key `{key}`: {message}")]
    Config {
        /// The key, dotted (e.g. `storage.type`).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The backend does not offer this operation.
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// The backend's name.
        backend: Name,
        /// The operation asked for.
        operation: Name,
    },
    /// The backend could not be reached or is overloaded; trying again may succeed.
    #[error("{backend} unavailable: {source}")]
    Unavailable {
        /// The backend's name.
        backend: Name,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A call did not answer in time; trying again may succeed.
    #[error("{what} timed out")]
    Timeout {
        /// What timed out, e.g. `command handler cart`.
        what: String,
    },
    /// Any other backend failure.
    #[error("{backend}: {message}")]
    Backend {
        /// The backend's name.
        backend: Name,
        /// What went wrong.
        message: String,
        /// Whether trying again may succeed.
        retriable: bool,
    },
}

/// A stable, machine-readable name for an [`Error`], used in JSON error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// See [`Error::SequenceConflict`].
    SequenceConflict,
    /// See [`Error::LimitExceeded`].
    LimitExceeded,
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::LeaseLost`].
    LeaseLost,
    /// See [`Error::Rejected`].
    Rejected,
    /// See [`Error::Corrupt`].
    Corrupt,
    /// See [`Error::RateLimited`].
    RateLimited,
    /// See [`Error::Config`].
    Config,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::Backend`].
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::SequenceConflict,
        ErrorCode::LimitExceeded,
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::LeaseLost,
        ErrorCode::Rejected,
        ErrorCode::Corrupt,
        ErrorCode::RateLimited,
        ErrorCode::Config,
        ErrorCode::Unsupported,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::Internal,
    ];

    /// The code as written in JSON bodies, e.g. `sequence_conflict`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SequenceConflict => "sequence_conflict",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::LeaseLost => "lease_lost",
            ErrorCode::Rejected => "rejected",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Config => "config",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// The gRPC status code this error is answered with.
    pub fn grpc_code(self) -> tonic::Code {
        use tonic::Code;
        match self {
            // WIRE: a strict expected-sequence mismatch is FAILED_PRECONDITION.
            ErrorCode::SequenceConflict | ErrorCode::Rejected => Code::FailedPrecondition,
            ErrorCode::LimitExceeded | ErrorCode::RateLimited => Code::ResourceExhausted,
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::LeaseLost => Code::Aborted,
            ErrorCode::Unsupported => Code::Unimplemented,
            ErrorCode::Corrupt => Code::DataLoss,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Timeout => Code::DeadlineExceeded,
            ErrorCode::Config | ErrorCode::Internal => Code::Internal,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn http_status(self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            ErrorCode::SequenceConflict | ErrorCode::LeaseLost => StatusCode::CONFLICT,
            ErrorCode::LimitExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Config | ErrorCode::Corrupt | ErrorCode::Internal => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no [`ErrorCode`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an error code")]
pub struct UnknownErrorCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    /// The inverse of [`ErrorCode::as_str`].
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
            .ok_or_else(|| UnknownErrorCode(code.to_owned()))
    }
}

impl Error {
    /// A malformed or incomplete input.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    /// A backend that could not be reached; retriable.
    pub fn unavailable(backend: impl Into<Name>, source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            backend: backend.into(),
            source: source.into(),
        }
    }

    /// Any other backend failure.
    pub fn backend(backend: impl Into<Name>, message: impl Into<String>, retriable: bool) -> Self {
        Error::Backend {
            backend: backend.into(),
            message: message.into(),
            retriable,
        }
    }

    /// A configuration error naming its key.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Whether the same request may succeed if tried again unchanged.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Unavailable { .. }
            | Error::Timeout { .. }
            | Error::LeaseLost { .. }
            | Error::RateLimited { .. } => true,
            Error::Backend { retriable, .. } => *retriable,
            // A conflict is resolved by reloading, not by repeating the same request.
            Error::SequenceConflict { .. }
            | Error::LimitExceeded { .. }
            | Error::InvalidArgument(_)
            | Error::NotFound(_)
            | Error::Rejected { .. }
            | Error::Corrupt(_)
            | Error::Config { .. }
            | Error::Unsupported { .. } => false,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SequenceConflict { .. } => ErrorCode::SequenceConflict,
            Error::LimitExceeded { .. } => ErrorCode::LimitExceeded,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::LeaseLost { .. } => ErrorCode::LeaseLost,
            Error::Rejected { .. } => ErrorCode::Rejected,
            Error::Corrupt(_) => ErrorCode::Corrupt,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Config { .. } => ErrorCode::Config,
            Error::Unsupported { .. } => ErrorCode::Unsupported,
            Error::Unavailable { .. } => ErrorCode::Unavailable,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::Backend {
                retriable: true, ..
            } => ErrorCode::Unavailable,
            Error::Backend { .. } => ErrorCode::Internal,
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> http::StatusCode {
        self.code().http_status()
    }
}

impl From<prost::DecodeError> for Error {
    fn from(error: prost::DecodeError) -> Self {
        Error::InvalidArgument(format!("malformed protobuf: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_map_to_failed_precondition_and_409() {
        let err = Error::SequenceConflict {
            key: "order#x".into(),
            expected: 1,
            actual: 3,
        };
        assert!(!err.is_retriable());
        assert_eq!(err.http_status(), http::StatusCode::CONFLICT);
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(status.message().contains("actual is 3"));
    }

    #[test]
    fn unavailable_is_retriable_and_503() {
        let err = Error::unavailable("redis", "connection refused");
        assert!(err.is_retriable());
        assert_eq!(err.code().as_str(), "unavailable");
        assert_eq!(err.http_status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unavailable);
    }

    #[test]
    fn backend_errors_follow_their_retriable_flag() {
        assert!(Error::backend("dynamodb", "throttled", true).is_retriable());
        let fatal = Error::backend("dynamodb", "validation", false);
        assert!(!fatal.is_retriable());
        assert_eq!(fatal.http_status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn bad_input_is_400_and_limits_413() {
        assert_eq!(
            Error::invalid_argument("x").http_status(),
            http::StatusCode::BAD_REQUEST
        );
        let limit = Error::LimitExceeded {
            what: "event bytes".into(),
            limit: 10,
            actual: 11,
        };
        assert_eq!(limit.http_status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!limit.is_retriable());
    }

    #[test]
    fn codes_parse_back_from_their_names() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
        }
        assert_eq!(
            "conflict".parse::<ErrorCode>(),
            Err(UnknownErrorCode("conflict".into()))
        );
    }

    #[test]
    fn malformed_protobuf_is_invalid_argument() {
        use prost::Message;
        let err: Error = crate::proto::EventBook::decode(&[0xffu8, 0xff, 0xff][..])
            .unwrap_err()
            .into();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
    }
}
