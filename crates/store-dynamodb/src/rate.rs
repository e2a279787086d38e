//! [`RateLimiter`] on DynamoDB: fixed windows aligned to multiples of the
//! window length since the Unix epoch; one item per key, window and shard,
//! `pk` = `{key}#{window_ms}#{window_index}#{shard}`, `count` (N) and `ttl`
//! (epoch seconds, a minute after the window ends, for DynamoDB's cleanup).
//!
//! One `UpdateItem ADD count :one` conditioned on `count <= limit`, with
//! `ReturnValues = UPDATED_NEW`, counts the request and returns the count in
//! one call. Once the window holds `limit + 1` requests the condition fails
//! and `ReturnValuesOnConditionCheckFailure = ALL_OLD` hands back the count,
//! so a refused request still costs one call and the counter stops growing
//! (every later decision is the same refusal either way).
//!
//! Hot keys: the window index in the partition key moves a busy key to a
//! new partition every window. Within one window a key is bounded by
//! DynamoDB's per-item rate (about 1,000 writes per second); a key expected
//! to exceed that can be spread over `shards` items
//! ([`crate::Builder::with_rate_limit_shards`]): each request counts on a
//! random shard against `ceil(limit / shards)`, which makes the limit
//! approximate (a request may be refused a little early when the shards are
//! unevenly hit). The default of one shard is exact.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use angzarr_core::{Error, RateDecision, RateLimiter, Result};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::backend::Shared;
use crate::error::{BACKEND, from_sdk};
use crate::item::{PK, TTL, get_n, n, s};

const COUNT: &str = "count";
/// How long a window's item outlives the window before TTL may delete it.
const TTL_SLACK_SECS: u128 = 60;

/// The [`RateLimiter`]; made by [`crate::DynamoDb::rate_limiter`].
#[derive(Clone, Debug)]
pub struct DynamoDbRateLimiter {
    shared: Arc<Shared>,
}

impl DynamoDbRateLimiter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait::async_trait]
impl RateLimiter for DynamoDbRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let window_ms = window.as_millis();
        if window_ms == 0 {
            return Err(Error::invalid_argument(
                "rate-limit window must be at least 1 ms",
            ));
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let index = now_ms / window_ms;
        let end_ms = (index + 1) * window_ms;
        let shards = self.shared.rate_limit_shards.max(1);
        let shard = if shards == 1 {
            0
        } else {
            uuid::Uuid::new_v4().as_u128() % u128::from(shards)
        };
        let shard_limit = limit.div_ceil(shards);
        let result = self
            .shared
            .client
            .update_item()
            .table_name(&self.shared.tables.rate_limits)
            .key(PK, s(format!("{key}#{window_ms}#{index}#{shard}")))
            .update_expression("ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl)")
            .condition_expression("attribute_not_exists(#count) OR #count <= :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(shard_limit))
            .expression_attribute_values(":ttl", n(end_ms / 1000 + TTL_SLACK_SECS))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let attributes = match result {
            Ok(out) => out.attributes,
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    refused.item.clone()
                }
                _ => return Err(from_sdk(error)),
            },
        };
        let attributes = attributes
            .ok_or_else(|| Error::backend(BACKEND, "rate-limit update returned no count", true))?;
        let count: u64 = get_n(&attributes, COUNT)?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let allowed = count <= shard_limit;
        let remaining = if shards == 1 {
            limit.saturating_sub(count)
        } else {
            shard_limit
                .saturating_sub(count)
                .saturating_mul(shards)
                .min(limit)
        };
        Ok(RateDecision {
            allowed,
            limit,
            remaining,
            reset_after: Duration::from_millis(u64::try_from(end_ms - now_ms).unwrap_or(u64::MAX)),
        })
    }
}
