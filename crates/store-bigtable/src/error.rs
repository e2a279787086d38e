//! The one conversion from the Bigtable client's errors into
//! [`angzarr_core::Error`], deciding what is worth retrying.

use angzarr_core::Error;
use tonic::Code;

/// The backend name in every error this crate returns.
pub(crate) const BACKEND: &str = "bigtable";

/// Converts a gRPC status: connectivity, overload and timeouts are retriable
/// ([`Error::Unavailable`]); everything else is a [`Error::Backend`] whose
/// retriability follows the status code.
pub(crate) fn from_status(status: tonic::Status) -> Error {
    match status.code() {
        // `Unknown` is what tonic reports for a connection torn down mid-call
        // (a transport error without a gRPC status); `Cancelled` for a
        // transport-level timeout.
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Unknown
        | Code::ResourceExhausted
        | Code::Aborted => Error::unavailable(BACKEND, status),
        // Bigtable documents INTERNAL as transient.
        Code::Internal => Error::backend(BACKEND, status.to_string(), true),
        Code::NotFound
        | Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::DataLoss
        | Code::Ok => Error::backend(BACKEND, status.to_string(), false),
    }
}

/// Converts an error of the `bigtable_rs` client.
pub(crate) fn from_client(error: bigtable_rs::bigtable::Error) -> Error {
    use bigtable_rs::bigtable::Error as E;
    match error {
        E::RpcError(status) => from_status(status),
        E::TransportError(e) => Error::unavailable(BACKEND, e),
        E::IoError(e) => Error::unavailable(BACKEND, e),
        E::TimeoutError(secs) => {
            Error::unavailable(BACKEND, format!("read timed out after {secs} s"))
        }
        // Fetching an access token can fail transiently (metadata server busy).
        E::GCPAuthError(e) => Error::backend(BACKEND, format!("authentication: {e}"), true),
        E::AccessTokenError(e) => Error::backend(BACKEND, format!("access token: {e}"), true),
        // A malformed response stream: reading again usually succeeds.
        E::ChunkError(e) => Error::backend(BACKEND, format!("malformed read stream: {e}"), true),
        other => Error::backend(BACKEND, other.to_string(), false),
    }
}

/// A call that did not finish within the configured timeout.
pub(crate) fn timed_out(what: &str, timeout: std::time::Duration) -> Error {
    Error::unavailable(BACKEND, format!("{what} timed out after {timeout:?}"))
}

/// Stored data this crate cannot decode.
pub(crate) fn corrupt(message: impl Into<String>) -> Error {
    Error::Corrupt(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_is_retriable_and_validation_is_not() {
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Aborted] {
            let err = from_status(tonic::Status::new(code, "x"));
            assert!(err.is_retriable(), "{code:?}");
            assert_eq!(err.code(), angzarr_core::ErrorCode::Unavailable);
        }
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::PermissionDenied,
        ] {
            assert!(!from_status(tonic::Status::new(code, "x")).is_retriable());
        }
        assert!(from_status(tonic::Status::internal("x")).is_retriable());
    }
}
