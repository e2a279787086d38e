//! [`RateLimiter`] on Bigtable: one row per key, window length and window
//! index (`{key}#{window_ms}#{index}`), family `rate`, counted with one
//! ReadModifyWriteRow increment of the `count` cell. A new window is a new
//! row, so correctness never depends on cleanup; the family's GC rule
//! (latest version, max age 2 days) removes old windows.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use angzarr_core::{Error, RateDecision, RateLimiter, Result};
use async_trait::async_trait;
use bigtable_rs::google::bigtable::v2::{
    ReadModifyWriteRowRequest, ReadModifyWriteRule, read_modify_write_rule,
};

use crate::client::Client;
use crate::error::corrupt;
use crate::layout::RATE_FAMILY;

const COUNT: &str = "count";

/// The [`RateLimiter`] of a [`crate::BigtableBackend`].
#[derive(Clone, Debug)]
pub struct BigtableRateLimiter {
    client: Arc<Client>,
    table: String,
}

impl BigtableRateLimiter {
    pub(crate) fn new(client: Arc<Client>, table: String) -> Self {
        Self { client, table }
    }
}

/// The current fixed window of length `window` (aligned to the Unix epoch,
/// as every backend does): its index and the time left in it.
fn current_window(window: Duration) -> Result<(u128, u128, Duration)> {
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
    let left_ms = (index + 1) * window_ms - now_ms;
    let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(u64::MAX));
    Ok((window_ms, index, left))
}

#[async_trait]
impl RateLimiter for BigtableRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let (window_ms, index, reset_after) = current_window(window)?;
        let request = ReadModifyWriteRowRequest {
            table_name: self.table.clone(),
            row_key: format!("{key}#{window_ms}#{index}").into_bytes(),
            rules: vec![ReadModifyWriteRule {
                family_name: RATE_FAMILY.to_owned(),
                column_qualifier: COUNT.as_bytes().to_vec(),
                rule: Some(read_modify_write_rule::Rule::IncrementAmount(1)),
            }],
            ..Default::default()
        };
        let row = self.client.read_modify_write(request).await?;
        // The new value is a 64-bit big-endian integer.
        let count = row
            .iter()
            .flat_map(|r| &r.families)
            .flat_map(|f| &f.columns)
            .filter(|c| c.qualifier == COUNT.as_bytes())
            .flat_map(|c| &c.cells)
            .find_map(|cell| <[u8; 8]>::try_from(cell.value.as_slice()).ok())
            .map(i64::from_be_bytes)
            .ok_or_else(|| {
                corrupt(format!(
                    "rate-limit counter of `{key}` is not a 64-bit count"
                ))
            })?;
        let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
        Ok(RateDecision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_after,
        })
    }
}
