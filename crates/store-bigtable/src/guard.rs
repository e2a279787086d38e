//! [`FiringGuard`] on Bigtable: one row per key in family `guard`, cells
//! `lease` (`in_progress:{token}` or `completed:{token}`) and `expires_at`
//! (milliseconds since the Unix epoch). Every change is a CheckAndMutateRow
//! conditioned on the exact `lease` value read (tokens are unique per
//! acquisition), or on the row's absence. Expiry is decided here, by
//! comparing `expires_at` with the clock, never by garbage collection: the
//! cells carry their expiry as timestamp only so that the family's GC rule
//! removes them a day after they expire.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use angzarr_core::{Acquisition, Error, FiringGuard, Lease, Result};
use async_trait::async_trait;
use bigtable_rs::google::bigtable::v2::{CheckAndMutateRowRequest, Mutation, ReadRowsRequest};

use crate::client::Client;
use crate::error::{BACKEND, corrupt};
use crate::layout::{
    GUARD_FAMILY, cell_value, chain, column, delete_family, delete_row, latest, one_row,
    parse_decimal, set_cell, value_is,
};

const LEASE: &str = "lease";
const EXPIRES_AT: &str = "expires_at";
const IN_PROGRESS: &str = "in_progress:";
const COMPLETED: &str = "completed:";
/// Attempts at acquiring a key that other holders keep changing.
const ATTEMPTS: usize = 3;

/// The [`FiringGuard`] of a [`crate::BigtableBackend`].
#[derive(Clone, Debug)]
pub struct BigtableFiringGuard {
    client: Arc<Client>,
    table: String,
}

/// A key's stored state.
struct Stored {
    lease: Vec<u8>,
    expires_at_ms: u64,
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl BigtableFiringGuard {
    pub(crate) fn new(client: Arc<Client>, table: String) -> Self {
        Self { client, table }
    }

    /// The mutations that replace the key's state.
    fn write_state(lease: String, expires_at_ms: u64) -> Vec<Mutation> {
        let timestamp = i64::try_from(expires_at_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        vec![
            delete_family(GUARD_FAMILY),
            set_cell(GUARD_FAMILY, LEASE, lease, timestamp),
            set_cell(
                GUARD_FAMILY,
                EXPIRES_AT,
                expires_at_ms.to_string(),
                timestamp,
            ),
        ]
    }

    /// Applies `mutations` if the key's `lease` cell is exactly `lease`, or
    /// (with `None`) if the key is absent. Returns whether they were applied.
    async fn write_if(
        &self,
        key: &str,
        lease: Option<&[u8]>,
        mutations: Vec<Mutation>,
    ) -> Result<bool> {
        let mut request = CheckAndMutateRowRequest {
            table_name: self.table.clone(),
            row_key: key.as_bytes().to_vec(),
            ..Default::default()
        };
        match lease {
            Some(lease) => {
                request.predicate_filter =
                    Some(chain(vec![column(LEASE), latest(), value_is(lease)]));
                request.true_mutations = mutations;
            }
            // No predicate matches when the row has any cell.
            None => request.false_mutations = mutations,
        }
        let matched = self.client.check_and_mutate(request).await?;
        Ok(matched == lease.is_some())
    }

    async fn read(&self, key: &str) -> Result<Option<Stored>> {
        let request = ReadRowsRequest {
            table_name: self.table.clone(),
            rows: one_row(key.as_bytes().to_vec()),
            filter: Some(latest()),
            rows_limit: 1,
            ..Default::default()
        };
        let rows = self.client.read_rows(request).await?;
        let Some((_, cells)) = rows.first() else {
            return Ok(None);
        };
        let lease = cell_value(cells, LEASE)
            .ok_or_else(|| corrupt(format!("guard key `{key}` has no lease cell")))?;
        let expires_at_ms = cell_value(cells, EXPIRES_AT)
            .and_then(parse_decimal)
            .ok_or_else(|| corrupt(format!("guard key `{key}` has no valid expiry")))?;
        Ok(Some(Stored {
            lease: lease.to_vec(),
            expires_at_ms,
        }))
    }
}

#[async_trait]
impl FiringGuard for BigtableFiringGuard {
    async fn acquire(&self, key: &str, lease: Duration) -> Result<Acquisition> {
        let token = uuid::Uuid::new_v4().to_string();
        let mine = || {
            Self::write_state(
                format!("{IN_PROGRESS}{token}"),
                now_ms().saturating_add(millis(lease)),
            )
        };
        let acquired = || {
            Acquisition::Acquired(Lease {
                key: key.to_owned(),
                token: token.clone(),
            })
        };
        // The first delivery of a key finds it absent: one round trip.
        if self.write_if(key, None, mine()).await? {
            return Ok(acquired());
        }
        for _ in 0..ATTEMPTS {
            let now = now_ms();
            let written = match self.read(key).await? {
                None => self.write_if(key, None, mine()).await?,
                Some(stored) if stored.expires_at_ms > now => {
                    return Ok(if stored.lease.starts_with(COMPLETED.as_bytes()) {
                        Acquisition::Completed
                    } else {
                        Acquisition::InProgress {
                            expires_in: Duration::from_millis(stored.expires_at_ms - now),
                        }
                    });
                }
                // Expired: take it over unless someone else does first.
                Some(stored) => self.write_if(key, Some(&stored.lease), mine()).await?,
            };
            if written {
                return Ok(acquired());
            }
        }
        Err(Error::backend(
            BACKEND,
            format!("guard key `{key}` kept changing during {ATTEMPTS} attempts"),
            true,
        ))
    }

    async fn complete(&self, lease: &Lease, retention: Duration) -> Result<()> {
        let held = format!("{IN_PROGRESS}{}", lease.token);
        let done = Self::write_state(
            format!("{COMPLETED}{}", lease.token),
            now_ms().saturating_add(millis(retention)),
        );
        if self
            .write_if(&lease.key, Some(held.as_bytes()), done)
            .await?
        {
            Ok(())
        } else {
            Err(Error::LeaseLost {
                key: lease.key.clone(),
            })
        }
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<()> {
        let held = format!("{IN_PROGRESS}{}", lease.token);
        let longer = Self::write_state(held.clone(), now_ms().saturating_add(millis(duration)));
        if self
            .write_if(&lease.key, Some(held.as_bytes()), longer)
            .await?
        {
            Ok(())
        } else {
            Err(Error::LeaseLost {
                key: lease.key.clone(),
            })
        }
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let held = format!("{IN_PROGRESS}{}", lease.token);
        if self
            .write_if(&lease.key, Some(held.as_bytes()), vec![delete_row()])
            .await?
        {
            Ok(())
        } else {
            Err(Error::LeaseLost {
                key: lease.key.clone(),
            })
        }
    }
}
