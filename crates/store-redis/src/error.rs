//! The one conversion from Redis and pool errors into [`angzarr_core::Error`].

use angzarr_core::Error;
use deadpool::managed::PoolError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// The backend name in every error this crate returns.
pub(crate) const BACKEND: &str = "redis";

/// Whether `error` means the connection is gone (the server restarted, the
/// socket was reset, a proxy hung up): the connection must be replaced, and
/// the command may be tried once more on a fresh one.
pub(crate) fn is_connection_lost(error: &RedisError) -> bool {
    // A timeout is not a lost connection: repeating it would only double the wait.
    !error.is_timeout() && (error.is_connection_dropped() || error.is_connection_refusal())
}

/// Converts a Redis error, deciding whether trying again may succeed:
/// connectivity, timeouts, a server loading its data, a cluster failing over
/// or a busy script are retriable; a wrong command, a wrong type, a refused
/// password or a missing ACL permission are not.
pub(crate) fn from_redis(error: RedisError) -> Error {
    if is_connection_lost(&error) || error.is_timeout() {
        return Error::unavailable(BACKEND, error);
    }
    let retriable = match error.kind() {
        ErrorKind::Server(kind) => matches!(
            kind,
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
        ),
        // `BUSY`: another script runs too long; it ends or is killed.
        ErrorKind::Extension => error.code() == Some("BUSY"),
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => true,
        _ => false,
    };
    if retriable {
        Error::unavailable(BACKEND, error)
    } else {
        Error::backend(BACKEND, error.to_string(), false)
    }
}

/// Converts a failure to get a pooled connection.
pub(crate) fn from_pool(error: PoolError<RedisError>) -> Error {
    match error {
        PoolError::Backend(error) => from_redis(error),
        PoolError::Timeout(kind) => Error::unavailable(
            BACKEND,
            format!("timed out getting a connection ({kind:?})"),
        ),
        other => Error::backend(BACKEND, other.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_retriable_and_wrong_types_are_not() {
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(from_redis(reset).is_retriable());
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(from_redis(timeout).is_retriable());
        let wrong = RedisError::from((ErrorKind::UnexpectedReturnType, "not a list"));
        assert!(!from_redis(wrong).is_retriable());
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "WRONGPASS"));
        assert!(!from_redis(auth).is_retriable());
    }
}
