//! The one conversion from SDK errors into [`angzarr_core::Error`].

use std::error::Error as StdError;

use angzarr_core::Error;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes that mean "slow down" or "try again later", in any service.
pub const RETRIABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "RequestTimeout",
    "KMSThrottlingException",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "KMSInternalException",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Converts an SDK error of `backend` (`dynamodb`, `sqs`, …): a timeout is
/// [`Error::Timeout`] (the request may or may not have been applied);
/// connection failures and unreadable responses are [`Error::Unavailable`];
/// the [`RETRIABLE_CODES`] and 5xx answers are retriable backend errors;
/// everything else (validation, a missing table, topic or queue, access
/// denied) is not retriable. The message keeps the service's error code.
pub fn from_sdk<E>(backend: &'static str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &error {
        SdkError::TimeoutError(_) => Error::Timeout {
            what: format!("{backend} request ({})", DisplayErrorContext(&error)),
        },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => Error::Timeout {
            what: format!("{backend} request ({})", DisplayErrorContext(&error)),
        },
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::unavailable(backend, DisplayErrorContext(&error).to_string())
        }
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown");
            let message = inner.message().unwrap_or_default();
            let server_fault = service.raw().status().is_server_error();
            let retriable = server_fault || RETRIABLE_CODES.contains(&code);
            Error::backend(backend, format!("{code}: {message}"), retriable)
        }
        _ => Error::backend(backend, DisplayErrorContext(&error).to_string(), false),
    }
}
