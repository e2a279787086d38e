//! [`FiringGuard`] on DynamoDB: one item per guarded key, `pk` = the key,
//! `state` (`in_progress` | `completed`), `token` (of the holder while in
//! progress), `expires_at` (epoch ms: the lease's end, or the end of a
//! completion's retention) and `ttl` (epoch seconds, for DynamoDB's own
//! cleanup).
//!
//! Correctness never depends on when DynamoDB's TTL deletes an item (that
//! can take days): every condition compares `expires_at` with the caller's
//! clock. Instances' clocks must therefore agree to well within a lease.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::{Acquisition, Error, FiringGuard, Lease, Result};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use crate::backend::Shared;
use crate::error::{BACKEND, from_sdk};
use crate::item::{Item, PK, TTL, get_n, get_s, n, now_ms, s};

const STATE: &str = "state";
const TOKEN: &str = "token";
const EXPIRES_AT: &str = "expires_at";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// The [`FiringGuard`]; made by [`crate::DynamoDb::firing_guard`].
#[derive(Clone, Debug)]
pub struct DynamoDbFiringGuard {
    shared: Arc<Shared>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The TTL (epoch seconds) of an item that stops mattering at `expires_at_ms`.
fn ttl_of(expires_at_ms: u64) -> u64 {
    expires_at_ms / 1000 + 1
}

impl DynamoDbFiringGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// What a refused acquire found in the way.
    fn holder(item: &Item, now: u64) -> Result<Acquisition> {
        let expires_at: u64 = get_n(item, EXPIRES_AT)?;
        Ok(match get_s(item, STATE)? {
            COMPLETED => Acquisition::Completed,
            _ => Acquisition::InProgress {
                expires_in: Duration::from_millis(expires_at.saturating_sub(now)),
            },
        })
    }

    /// Reads the current holder when a refusal came without the old item
    /// (DynamoDB always returns it with `ALL_OLD`; this is a safety net).
    async fn read_holder(&self, key: &str, now: u64) -> Result<Acquisition> {
        let out = self
            .shared
            .client
            .get_item()
            .table_name(&self.shared.tables.guard)
            .key(PK, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        match out.item {
            Some(item) => Self::holder(&item, now),
            None => Err(Error::backend(
                BACKEND,
                format!("acquire of `{key}` refused, but the key is absent"),
                true,
            )),
        }
    }

    /// One `UpdateItem` of a key `lease` still holds (its token, in
    /// progress): `update` sets `expires_at` and the TTL to `duration` from
    /// now (and the state to completed, with `completing`); `LeaseLost`
    /// when the key is no longer this lease's.
    async fn update_held(
        &self,
        lease: &Lease,
        update: &str,
        completing: bool,
        duration: Duration,
    ) -> Result<()> {
        let until = now_ms().saturating_add(millis(duration));
        let mut request = self
            .shared
            .client
            .update_item()
            .table_name(&self.shared.tables.guard)
            .key(PK, s(&lease.key))
            .update_expression(update)
            .condition_expression("#token = :token AND #state = :in_progress")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":ttl", n(ttl_of(until)))
            .expression_attribute_values(":token", s(&lease.token));
        if completing {
            request = request.expression_attribute_values(":completed", s(COMPLETED));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    Err(Error::LeaseLost {
                        key: lease.key.clone(),
                    })
                }
                _ => Err(from_sdk(error)),
            },
        }
    }
}

#[async_trait::async_trait]
impl FiringGuard for DynamoDbFiringGuard {
    async fn acquire(&self, key: &str, lease: Duration) -> Result<Acquisition> {
        let now = now_ms();
        let expires_at = now.saturating_add(millis(lease));
        let token = uuid::Uuid::new_v4().to_string();
        let result = self
            .shared
            .client
            .put_item()
            .table_name(&self.shared.tables.guard)
            .item(PK, s(key))
            .item(STATE, s(IN_PROGRESS))
            .item(TOKEN, s(&token))
            .item(EXPIRES_AT, n(expires_at))
            .item(TTL, n(ttl_of(expires_at)))
            .condition_expression("attribute_not_exists(#pk) OR #expires_at <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Acquisition::Acquired(Lease {
                key: key.to_owned(),
                token,
            })),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                    match refused.item() {
                        Some(old) => Self::holder(old, now),
                        None => self.read_holder(key, now).await,
                    }
                }
                _ => Err(from_sdk(error)),
            },
        }
    }

    async fn complete(&self, lease: &Lease, retention: Duration) -> Result<()> {
        let update = "SET #state = :completed, #expires_at = :until, #ttl = :ttl REMOVE #token";
        self.update_held(lease, update, true, retention).await
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<()> {
        let update = "SET #expires_at = :until, #ttl = :ttl";
        self.update_held(lease, update, false, duration).await
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let result = self
            .shared
            .client
            .delete_item()
            .table_name(&self.shared.tables.guard)
            .key(PK, s(&lease.key))
            .condition_expression("#token = :token AND #state = :in_progress")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":token", s(&lease.token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                    Err(Error::LeaseLost {
                        key: lease.key.clone(),
                    })
                }
                _ => Err(from_sdk(error)),
            },
        }
    }
}
