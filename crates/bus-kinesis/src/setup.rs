//! Creating streams, for tests and `xtask` (production streams come from
//! the deploy modules).

use std::time::Duration;

use angzarr_core::{Error, Result};
use aws_sdk_kinesis::types::StreamStatus;

use angzarr_aws::from_sdk;

/// Creates the stream `name` with `shards` shards and waits (up to 30 s)
/// until it is active.
pub async fn create_stream(
    client: &aws_sdk_kinesis::Client,
    name: &str,
    shards: u32,
) -> Result<()> {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards as i32)
        .send()
        .await
        .map_err(|e| from_sdk("kinesis", e))?;
    for _ in 0..300 {
        let summary = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("kinesis", e))?;
        if summary
            .stream_description_summary()
            .map(|s| s.stream_status() == &StreamStatus::Active)
            .unwrap_or(false)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::backend(
        "kinesis",
        format!("stream `{name}` did not become active"),
        true,
    ))
}
