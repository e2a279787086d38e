//! [`FiringGuard`]: one string per key. `p:<token>` while in progress (it
//! expires with the lease), `c` once completed (it expires with the
//! retention); an absent key is free.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::{Acquisition, Error, FiringGuard, Lease, Result};
use async_trait::async_trait;

use crate::backend::Shared;
use crate::scripts::{GUARD_ACQUIRE, GUARD_COMPLETE, GUARD_RELEASE, GUARD_RENEW};

/// The Redis [`FiringGuard`]; take it from [`crate::RedisBackend::firing_guard`].
#[derive(Clone, Debug)]
pub struct RedisFiringGuard {
    shared: Arc<Shared>,
}

impl RedisFiringGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs a token-checked guard script; 1 means this lease held the key.
    async fn holds(
        &self,
        script: &'static redis::Script,
        lease: &Lease,
        retention_ms: Option<u64>,
    ) -> Result<()> {
        let name = self.shared.keys.guard(&lease.key);
        let value = in_progress(&lease.token);
        let held: u8 = self
            .shared
            .connections
            .run(|mut conn| {
                let mut invocation = script.key(&name);
                invocation.arg(&value);
                if let Some(ms) = retention_ms {
                    invocation.arg(ms);
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        if held == 1 {
            Ok(())
        } else {
            Err(Error::LeaseLost {
                key: lease.key.clone(),
            })
        }
    }
}

fn in_progress(token: &str) -> String {
    format!("p:{token}")
}

/// A duration as Redis `PX` milliseconds: at least 1 (`PX 0` is an error).
fn millis(what: &str, duration: Duration) -> Result<u64> {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Err(Error::invalid_argument(format!(
            "the firing-guard {what} must be at least 1 ms"
        )));
    }
    Ok(ms)
}

#[async_trait]
impl FiringGuard for RedisFiringGuard {
    async fn acquire(&self, key: &str, lease: Duration) -> Result<Acquisition> {
        let lease_ms = millis("lease", lease)?;
        let token = uuid::Uuid::new_v4().to_string();
        let name = self.shared.keys.guard(key);
        let value = in_progress(&token);
        let (state, ttl_ms): (u8, i64) = self
            .shared
            .connections
            .run(|mut conn| {
                let mut invocation = GUARD_ACQUIRE.key(&name);
                invocation.arg(&value).arg(lease_ms);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        match state {
            1 => Ok(Acquisition::Acquired(Lease {
                key: key.to_owned(),
                token,
            })),
            2 => Ok(Acquisition::Completed),
            3 => Ok(Acquisition::InProgress {
                expires_in: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
            }),
            other => Err(Error::backend(
                crate::error::BACKEND,
                format!("guard script answered an unknown state {other}"),
                false,
            )),
        }
    }

    async fn complete(&self, lease: &Lease, retention: Duration) -> Result<()> {
        let retention_ms = millis("retention", retention)?;
        self.holds(&GUARD_COMPLETE, lease, Some(retention_ms)).await
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        self.holds(&GUARD_RELEASE, lease, None).await
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<()> {
        let lease_ms = millis("lease", duration)?;
        self.holds(&GUARD_RENEW, lease, Some(lease_ms)).await
    }
}
