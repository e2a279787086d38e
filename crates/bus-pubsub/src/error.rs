//! The one conversion from the Pub/Sub client's errors into [`angzarr_core::Error`].

use angzarr_core::Error;
use gcloud_gax::grpc::{Code, Status};

/// The backend name used in errors.
pub(crate) const BACKEND: &str = "pubsub";

/// An error of the Pub/Sub client library: a gRPC status, or a failure to
/// open the connection.
#[derive(Debug)]
pub(crate) enum SdkError {
    Status(Status),
    Connect(gcloud_pubsub::client::Error),
}

impl From<Status> for SdkError {
    fn from(status: Status) -> Self {
        SdkError::Status(status)
    }
}

impl From<gcloud_pubsub::client::Error> for SdkError {
    fn from(error: gcloud_pubsub::client::Error) -> Self {
        SdkError::Connect(error)
    }
}

impl From<SdkError> for Error {
    fn from(error: SdkError) -> Self {
        match error {
            SdkError::Connect(gcloud_pubsub::client::Error::ProjectIdNotFound) => {
                Error::config("messaging.gcp_pubsub.project", "no project id")
            }
            // Transport and authentication-source failures: the service (or
            // the metadata server) could not be reached.
            SdkError::Connect(error) => Error::unavailable(BACKEND, error.to_string()),
            SdkError::Status(status) => from_status(status),
        }
    }
}

/// Throttling, server errors, timeouts and broken connections are worth
/// another try; everything else is a property of the request.
fn from_status(status: Status) -> Error {
    let message = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Internal
        | Code::Unknown
        | Code::Cancelled => Error::unavailable(BACKEND, message),
        Code::NotFound => Error::NotFound(format!("{BACKEND}: {message}")),
        Code::InvalidArgument | Code::OutOfRange => Error::invalid_argument(message),
        _ => Error::backend(BACKEND, message, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriability_follows_the_status_code() {
        let retriable = [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ];
        for code in retriable {
            assert!(Error::from(SdkError::from(Status::new(code, "x"))).is_retriable());
        }
        let fatal = [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::NotFound,
        ];
        for code in fatal {
            assert!(!Error::from(SdkError::from(Status::new(code, "x"))).is_retriable());
        }
    }
}
