use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::lock;
use crate::error::{Error, Result};
use crate::guard::{Acquisition, FiringGuard, Lease};

#[derive(Debug)]
enum State {
    InProgress { token: String, until: Instant },
    Completed { until: Instant },
}

/// A [`FiringGuard`] in process memory: guards duplicates within one process.
#[derive(Debug, Default)]
pub struct MemoryFiringGuard {
    keys: Mutex<HashMap<String, State>>,
}

impl MemoryFiringGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl FiringGuard for MemoryFiringGuard {
    async fn acquire(&self, key: &str, lease: Duration) -> Result<Acquisition> {
        let now = Instant::now();
        let mut keys = lock(&self.keys);
        match keys.get(key) {
            Some(State::Completed { until }) if *until > now => {
                return Ok(Acquisition::Completed);
            }
            Some(State::InProgress { until, .. }) if *until > now => {
                return Ok(Acquisition::InProgress {
                    expires_in: *until - now,
                });
            }
            _ => {}
        }
        let token = uuid::Uuid::new_v4().to_string();
        keys.insert(
            key.to_owned(),
            State::InProgress {
                token: token.clone(),
                until: now + lease,
            },
        );
        Ok(Acquisition::Acquired(Lease {
            key: key.to_owned(),
            token,
        }))
    }

    async fn complete(&self, lease: &Lease, retention: Duration) -> Result<()> {
        let mut keys = lock(&self.keys);
        match keys.get(&lease.key) {
            Some(State::InProgress { token, .. }) if *token == lease.token => {
                keys.insert(
                    lease.key.clone(),
                    State::Completed {
                        until: Instant::now() + retention,
                    },
                );
                Ok(())
            }
            _ => Err(Error::LeaseLost {
                key: lease.key.clone(),
            }),
        }
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<()> {
        let mut keys = lock(&self.keys);
        match keys.get_mut(&lease.key) {
            Some(State::InProgress { token, until }) if *token == lease.token => {
                *until = Instant::now() + duration;
                Ok(())
            }
            _ => Err(Error::LeaseLost {
                key: lease.key.clone(),
            }),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let mut keys = lock(&self.keys);
        match keys.get(&lease.key) {
            Some(State::InProgress { token, .. }) if *token == lease.token => {
                keys.remove(&lease.key);
                Ok(())
            }
            _ => Err(Error::LeaseLost {
                key: lease.key.clone(),
            }),
        }
    }
}
