//! S3 SDK errors into [`angzarr_core::Error`]: the mapping all AWS adapters
//! share, plus a missing object as [`Error::NotFound`].

use angzarr_core::Error;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The backend name in errors.
pub(crate) const BACKEND: &str = "s3";

/// Converts an SDK error about the object at `uri`: a missing object is
/// [`Error::NotFound`]; everything else as [`angzarr_aws::from_sdk`] decides
/// (timeouts and connection failures retriable, throttling and server faults
/// retriable, anything else final).
pub(crate) fn from_sdk<E>(error: SdkError<E, HttpResponse>, uri: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(context) = &error
        && (context.err().code() == Some("NoSuchKey") || context.raw().status().as_u16() == 404)
    {
        return Error::NotFound(format!("payload `{uri}`"));
    }
    angzarr_aws::from_sdk(BACKEND, error)
}
