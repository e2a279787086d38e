//! The one conversion from DynamoDB SDK errors into [`angzarr_core::Error`],
//! deciding what is worth retrying.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};

use angzarr_core::Error;

/// The backend name in errors.
pub(crate) const BACKEND: &str = "dynamodb";

/// Converts an SDK error with the mapping all AWS adapters share
/// ([`angzarr_aws::from_sdk`]): timeouts are [`Error::Timeout`], connection
/// failures [`Error::Unavailable`]; throttling, server faults and transaction
/// conflicts are retriable; the rest is final.
pub(crate) fn from_sdk<E>(error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    angzarr_aws::from_sdk(BACKEND, error)
}

/// A request the SDK refused to build (a required field missing): a bug here.
pub(crate) fn from_build(error: BuildError) -> Error {
    Error::backend(BACKEND, format!("malformed request: {error}"), false)
}
