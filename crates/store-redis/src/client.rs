//! Connections: a pool of multiplexed connections, and the one place that
//! runs a command with the "retry once on a dropped connection" rule.

use std::future::Future;
use std::time::Duration;

use angzarr_core::Result;
use deadpool::managed::{self, Metrics, Object, Pool, PoolError, RecycleResult};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, RedisResult};

use crate::error::{from_pool, from_redis, is_connection_lost};

/// Creates multiplexed connections.
///
/// Unlike `deadpool-redis`'s manager, recycling sends nothing (it `PING`s on
/// every checkout, doubling the round trips of every operation): a dead
/// connection shows itself on its next command, which [`Connections::run`]
/// answers by emptying the pool and trying once more.
#[derive(Debug)]
pub(crate) struct Manager {
    client: Client,
    config: AsyncConnectionConfig,
}

impl managed::Manager for Manager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
    }

    async fn recycle(
        &self,
        _connection: &mut MultiplexedConnection,
        _metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        Ok(())
    }
}

/// The pool every store of one [`crate::RedisBackend`] shares.
#[derive(Clone, Debug)]
pub(crate) struct Connections {
    pool: Pool<Manager>,
}

/// Why one attempt failed.
enum Failure {
    /// The connection is gone (or could not be made): worth one more try.
    Lost(RedisError),
    /// The command failed for another reason.
    Command(RedisError),
    /// No connection could be had from the pool.
    Pool(PoolError<RedisError>),
}

impl Connections {
    /// A lazy pool: nothing connects until the first command.
    pub(crate) fn new(
        client: Client,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Self, managed::BuildError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let pool = Pool::builder(Manager { client, config })
            .max_size(pool_size)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()?;
        Ok(Self { pool })
    }

    /// Runs `command` on a pooled connection. If the connection turns out to
    /// be dropped (a server restart, a failover, an idle connection closed
    /// by a proxy), every idle connection is discarded and `command` runs
    /// once more on a new one; a second failure is
    /// [`angzarr_core::Error::Unavailable`].
    ///
    /// Commands given here must be safe to repeat: every write of this crate
    /// is conditional (appends check the sequence and recognise their own
    /// id when a first attempt was applied, guard updates check the token),
    /// except the rate-limit count, where a repeat counts twice.
    pub(crate) async fn run<T, F, Fut>(&self, command: F) -> Result<T>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match self.attempt(&command).await {
            Ok(value) => Ok(value),
            Err(Failure::Lost(first)) => {
                tracing::debug!(error = %first, "redis connection lost; retrying once");
                self.pool.retain(|_, _| false);
                match self.attempt(&command).await {
                    Ok(value) => Ok(value),
                    Err(Failure::Lost(e) | Failure::Command(e)) => Err(from_redis(e)),
                    Err(Failure::Pool(e)) => Err(from_pool(e)),
                }
            }
            Err(Failure::Command(e)) => Err(from_redis(e)),
            Err(Failure::Pool(e)) => Err(from_pool(e)),
        }
    }

    async fn attempt<T, F, Fut>(&self, command: &F) -> Result<T, Failure>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let object = match self.pool.get().await {
            Ok(object) => object,
            Err(PoolError::Backend(e)) if is_connection_lost(&e) => return Err(Failure::Lost(e)),
            Err(e) => return Err(Failure::Pool(e)),
        };
        // A multiplexed connection is a cheap handle; the pooled object stays
        // checked out while the command runs.
        match command((*object).clone()).await {
            Ok(value) => Ok(value),
            Err(e) if is_connection_lost(&e) => {
                // Never hand this connection out again.
                drop(Object::take(object));
                Err(Failure::Lost(e))
            }
            Err(e) => Err(Failure::Command(e)),
        }
    }
}
