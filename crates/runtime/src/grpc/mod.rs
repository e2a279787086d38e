//! Business logic over gRPC, and the runtime's own gRPC services.
//!
//! * [`client`]: tonic clients for `CommandHandlerService`, `ProjectorService`,
//!   `SagaService` and `UpcasterService` at `/angzarr.<Service>/<Method>`, so a
//!   service written with the angzarr client libraries in any language is
//!   served unchanged.
//! * [`server`]: the runtime's `CommandHandlerCoordinatorService` and
//!   `EventQueryService`, and adapters that serve Rust business logic over gRPC.

pub mod client;
pub mod server;

use angzarr_core::Error;
use tonic::Code;

/// Turns a business-logic service's gRPC status into an [`Error`].
///
/// FAILED_PRECONDITION is the handler refusing the command (a rejection);
/// INVALID_ARGUMENT a malformed command; UNAVAILABLE and DEADLINE_EXCEEDED a
/// service that is down or slow (retriable).
pub fn error_from_status(service: &str, status: tonic::Status) -> Error {
    let message = status.message().to_owned();
    match status.code() {
        Code::FailedPrecondition | Code::Aborted | Code::OutOfRange | Code::AlreadyExists => {
            Error::Rejected { reason: message }
        }
        Code::InvalidArgument => Error::InvalidArgument(message),
        Code::NotFound => Error::NotFound(message),
        Code::DeadlineExceeded => Error::Timeout {
            what: service.to_owned(),
        },
        Code::Unavailable | Code::ResourceExhausted | Code::Cancelled => {
            Error::unavailable("grpc", format!("{service}: {message}"))
        }
        Code::Unimplemented => Error::backend(
            "grpc",
            format!("{service}: unimplemented: {message}"),
            false,
        ),
        code => Error::backend("grpc", format!("{service}: {code:?}: {message}"), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_errors_callers_can_act_on() {
        let rejected = error_from_status("cart", tonic::Status::failed_precondition("empty cart"));
        assert!(matches!(rejected, Error::Rejected { ref reason } if reason == "empty cart"));
        let timeout = error_from_status("cart", tonic::Status::deadline_exceeded("slow"));
        assert_eq!(tonic::Status::from(timeout).code(), Code::DeadlineExceeded);
        let down = error_from_status("cart", tonic::Status::unavailable("down"));
        assert!(down.is_retriable());
        assert_eq!(tonic::Status::from(down).code(), Code::Unavailable);
        let bad = error_from_status("cart", tonic::Status::invalid_argument("no such type"));
        assert_eq!(tonic::Status::from(bad).code(), Code::InvalidArgument);
    }
}
