//! [`KinesisReader`]: a polling reader of one stream for local runs and the
//! persistent topology. It keeps no state: the caller holds the
//! [`Checkpoint`] of each shard and resumes from it.

use std::fmt;
use std::sync::Arc;

use angzarr_core::payload::resolve_book;
use angzarr_core::{Delivery, PayloadStore, Result};
use aws_sdk_kinesis::types::ShardIteratorType;

use crate::publish::decode_record_data;
use angzarr_aws::from_sdk;

/// Most records one `GetRecords` returns.
const MAX_RECORDS: usize = 10_000;
/// `GetRecords` calls one read makes at most while it finds only empty
/// stretches of a shard that is behind its tip.
const MAX_EMPTY_HOPS: usize = 5;

/// Where a reader is in one shard: after `sequence_number`, or at the
/// oldest record kept when there is none.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The shard.
    pub shard_id: String,
    /// The last record processed, if any.
    pub sequence_number: Option<String>,
}

impl Checkpoint {
    /// The start of `shard_id` (its oldest kept record).
    pub fn start(shard_id: impl Into<String>) -> Self {
        Self {
            shard_id: shard_id.into(),
            sequence_number: None,
        }
    }
}

/// One record read, with the checkpoint to store once it is processed.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadRecord {
    /// The book; `message_id` is `{shard_id}:{sequence}` (the form of a
    /// Lambda record's `eventID`), `ack_id` the sequence number.
    pub delivery: Delivery,
    /// The checkpoint just after this record.
    pub checkpoint: Checkpoint,
}

/// The result of one [`KinesisReader::read`].
#[derive(Clone, Debug, PartialEq)]
pub struct ReadBatch {
    /// The records, oldest first.
    pub records: Vec<ReadRecord>,
    /// The checkpoint after the whole batch (unchanged when it is empty),
    /// including records skipped as undecodable.
    pub checkpoint: Checkpoint,
    /// How far the shard's tip is ahead, as Kinesis reports it.
    pub millis_behind_latest: Option<i64>,
}

/// Reads one stream shard by shard, from checkpoints the caller keeps.
#[derive(Clone)]
pub struct KinesisReader {
    kinesis: aws_sdk_kinesis::Client,
    stream_name: String,
    payload_store: Option<Arc<dyn PayloadStore>>,
}

impl fmt::Debug for KinesisReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KinesisReader")
            .field("stream_name", &self.stream_name)
            .finish_non_exhaustive()
    }
}

impl KinesisReader {
    pub(crate) fn new(
        kinesis: aws_sdk_kinesis::Client,
        stream_name: String,
        payload_store: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            kinesis,
            stream_name,
            payload_store,
        }
    }

    /// The stream read.
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// The stream's shard ids (`ListShards`).
    pub async fn shards(&self) -> Result<Vec<String>> {
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let request = match &next_token {
                // A continuation names the stream through the token only.
                Some(token) => self.kinesis.list_shards().next_token(token),
                None => self.kinesis.list_shards().stream_name(&self.stream_name),
            };
            let output = request.send().await.map_err(|e| from_sdk("kinesis", e))?;
            shards.extend(output.shards().iter().map(|s| s.shard_id().to_owned()));
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(shards);
            }
        }
    }

    /// Reads up to `max` records after `from` (`GetShardIterator` then
    /// `GetRecords`). A record that does not decode is logged and skipped:
    /// it can never be processed, and stopping at it would stall the shard.
    pub async fn read(&self, from: &Checkpoint, max: usize) -> Result<ReadBatch> {
        let mut request = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.stream_name)
            .shard_id(&from.shard_id);
        request = match &from.sequence_number {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let mut iterator = request
            .send()
            .await
            .map_err(|e| from_sdk("kinesis", e))?
            .shard_iterator;

        let mut batch = ReadBatch {
            records: Vec::new(),
            checkpoint: from.clone(),
            millis_behind_latest: None,
        };
        let limit = max.clamp(1, MAX_RECORDS) as i32;
        for _ in 0..MAX_EMPTY_HOPS {
            let Some(current) = iterator.take() else {
                break;
            };
            let output = self
                .kinesis
                .get_records()
                .shard_iterator(current)
                .limit(limit)
                .send()
                .await
                .map_err(|e| from_sdk("kinesis", e))?;
            batch.millis_behind_latest = output.millis_behind_latest();
            iterator = output.next_shard_iterator().map(str::to_owned);
            for record in output.records() {
                let checkpoint = Checkpoint {
                    shard_id: from.shard_id.clone(),
                    sequence_number: Some(record.sequence_number().to_owned()),
                };
                batch.checkpoint = checkpoint.clone();
                let (mut book, attributes) = match decode_record_data(record.data().as_ref()) {
                    Ok(decoded) => decoded,
                    Err(error) => {
                        tracing::warn!(
                            sequence_number = record.sequence_number(),
                            stream = %self.stream_name,
                            %error,
                            "undecodable Kinesis record skipped"
                        );
                        continue;
                    }
                };
                if let Some(store) = &self.payload_store {
                    resolve_book(&**store, &mut book).await?;
                }
                batch.records.push(ReadRecord {
                    delivery: Delivery {
                        // Sequence numbers are unique within a shard only.
                        message_id: format!("{}:{}", from.shard_id, record.sequence_number()),
                        ack_id: record.sequence_number().to_owned(),
                        book,
                        attributes,
                        attempt: 1,
                    },
                    checkpoint,
                });
            }
            let caught_up = batch.millis_behind_latest.unwrap_or(0) == 0;
            if !output.records().is_empty() || caught_up {
                break;
            }
        }
        Ok(batch)
    }
}
