//! Every [`Error`] variant, for the tests that carry errors across a
//! transport and back (HTTP JSON, gRPC status, Lambda `Invoke` answers).
//!
//! ```
//! use angzarr_core::error::wire;
//! use angzarr_testkit::errors::{every_variant, observed};
//!
//! for error in every_variant() {
//!     let body = wire::http_body(&error);
//!     let back = wire::error_from_http("peer", error.http_status(), body.as_bytes());
//!     assert_eq!(observed(&back), observed(&error));
//! }
//! ```

use std::time::Duration;

use angzarr_core::error::wire::WireError;
use angzarr_core::{Error, ErrorCode};

/// One error of every variant (and both sides of `Backend`'s retriable
/// flag), with fields that differ from their defaults, covering every
/// [`ErrorCode`].
pub fn every_variant() -> Vec<Error> {
    let errors = vec![
        Error::SequenceConflict {
            key: "cart#1".into(),
            expected: 2,
            actual: 5,
        },
        Error::LimitExceeded {
            what: "event bytes".into(),
            limit: 400_000,
            actual: 400_001,
        },
        Error::InvalidArgument("no cover".into()),
        Error::NotFound("no aggregate for `ledger`".into()),
        Error::LeaseLost {
            key: "projector#e1".into(),
        },
        Error::Rejected {
            reason: "cart is empty".into(),
        },
        Error::Corrupt("sha256 differs".into()),
        Error::RateLimited {
            retry_after: Duration::from_millis(1500),
        },
        Error::config("storage.type", "unknown type `dynamo`"),
        Error::Unsupported {
            backend: "memory".into(),
            operation: "aggregate_roots".into(),
        },
        Error::unavailable("dynamodb", "connection refused"),
        Error::Timeout {
            what: "command handler cart".into(),
        },
        Error::backend("sqs", "throttled", true),
        Error::backend("sqs", "validation", false),
    ];
    let codes: std::collections::HashSet<ErrorCode> = errors.iter().map(Error::code).collect();
    assert_eq!(codes.len(), ErrorCode::ALL.len(), "a code has no sample");
    errors
}

/// Everything a caller can observe of an error: its wire form (code,
/// message, retriability, variant and fields), its `Display`, whether it is
/// retriable, and its code. Two errors that observe the same are the same to
/// every caller.
pub fn observed(error: &Error) -> (WireError, String, bool, ErrorCode) {
    (
        WireError::from(error),
        error.to_string(),
        error.is_retriable(),
        error.code(),
    )
}

/// The key of the [`Error::Config`] in `result`; panics naming what it got
/// otherwise (for tests of settings that must be refused).
pub fn config_key<T: std::fmt::Debug>(result: angzarr_core::Result<T>) -> String {
    match result {
        Err(Error::Config { key, .. }) => key,
        other => panic!("expected a config error, got {other:?}"),
    }
}
