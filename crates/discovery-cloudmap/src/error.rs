//! The one conversion from SDK errors into [`angzarr_core::Error`].

use std::error::Error as StdError;

use angzarr_core::Error;
use aws_sdk_servicediscovery::config::http::HttpResponse;
use aws_sdk_servicediscovery::error::{ProvideErrorMetadata, SdkError};

/// Error codes that mean "slow down" or "try again later".
const RETRIABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "KMSInternalException",
];

/// Converts any SDK error of `backend` (`cloudmap`): timeouts, connection
/// failures, unreadable responses, throttling and 5xx are retriable;
/// everything else (validation, missing namespace or service, access denied) is not.
pub(crate) fn from_sdk<E>(backend: &'static str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::unavailable(backend, error)
        }
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown");
            let message = inner.message().unwrap_or_default();
            let server_fault = service.raw().status().is_server_error();
            let retriable = server_fault || RETRIABLE_CODES.contains(&code);
            Error::backend(backend, format!("{code}: {message}"), retriable)
        }
        _ => Error::backend(backend, error.to_string(), false),
    }
}
