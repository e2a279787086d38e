//! The shop on AWS with Kinesis Data Streams as the bus, on moto: the
//! DynamoDB tables and the four functions of [`Functions`] (built with the
//! `kinesis` feature, `messaging.type: aws_kinesis`), one stream per domain
//! (`{prefix}-events-{domain}`, [`SHARDS`] shards each), and a local stand-in
//! for Lambda's Kinesis event source mapping with `ReportBatchItemFailures`:
//! per function and per stream shard a checkpoint, batches of up to
//! [`BATCH_SIZE`] records handed to the function as real `aws:kinesis`
//! events, the checkpoint moved to just before the first failed record (so
//! it and everything behind it come again on the next poll) or past the
//! batch, and a batch whose head record keeps failing discarded after
//! [`MAX_RETRY_ATTEMPTS`] retries.
//!
//! What moto does differently from Kinesis, and how this copes:
//! - sequence numbers are small per-shard counters (`"1"`, `"2"`, …)
//!   instead of 56-digit numbers; they are still unique within a shard and
//!   increasing, which is all a checkpoint needs, and `eventID` carries the
//!   shard id as Lambda's does;
//! - moto has no event source mappings that invoke functions (Lambda
//!   `Invoke` needs Docker there), hence the poller below, reading with
//!   `GetShardIterator` + `GetRecords` as the mapping does;
//! - `MillisBehindLatest` is the arrival-time gap to the last record, not
//!   to the tip; it is only used to decide whether to ask again after an
//!   empty `GetRecords`.
//!
//! The trigger stops a Kinesis batch at the first failed record by itself
//! (`angzarr_bus_kinesis::process_kinesis_event`), so `lambda.fifo` is left
//! unset here.

use std::collections::HashMap;
use std::ops::Deref;

use angzarr_bus_kinesis::setup::create_stream;
use angzarr_bus_kinesis::{Checkpoint, KinesisEvent};
use anyhow::{Context, bail};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{Functions, REGION, failures};

/// Records per event at most (the mapping's `BatchSize`).
pub const BATCH_SIZE: i32 = 10;
/// Shards per stream: more than one, so the checkpoints are per shard.
pub const SHARDS: u32 = 2;
/// Retries of a batch whose first record keeps failing before the mapping
/// discards it (the mapping's `MaximumRetryAttempts`; Lambda would send the
/// batch's details to its on-failure destination). As with Lambda without
/// `BisectBatchOnFunctionError`, the whole retried batch goes, not only the
/// failing record: the test keeps its malformed record alone at the end of
/// its shard.
pub const MAX_RETRY_ATTEMPTS: u32 = 3;
/// The account of the ARNs made up for events.
const ACCOUNT: &str = "123456789012";

/// A stream a mapping reads.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The stream's name.
    pub name: String,
    /// Its ARN (the events' `eventSourceARN`).
    pub arn: String,
    /// Its shard ids.
    pub shards: Vec<String>,
}

/// Where a mapping is in one shard.
#[derive(Debug)]
struct ShardState {
    /// After the last record done (or discarded).
    checkpoint: Checkpoint,
    /// The record the last batch stopped at, and how many times in a row
    /// it has failed.
    failing: Option<(String, u32)>,
}

/// One event source mapping: a function reading some streams, with its
/// own checkpoint per stream and shard.
#[derive(Debug)]
pub struct Mapping {
    /// The function invoked.
    pub function: &'static str,
    /// The streams read.
    pub streams: Vec<Stream>,
    /// Per (stream, shard); held for a whole poll, so one mapping's polls
    /// never overlap (Lambda runs one batch per shard at a time).
    state: Mutex<HashMap<(String, String), ShardState>>,
}

impl Mapping {
    fn new(function: &'static str, streams: Vec<Stream>) -> Self {
        Self {
            function,
            streams,
            state: Mutex::new(HashMap::new()),
        }
    }
}

/// A record handed to a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The stream's name.
    pub stream: String,
    /// The shard.
    pub shard_id: String,
    /// The record's sequence number (its `itemIdentifier` in a failure).
    pub sequence_number: String,
    /// The record's data.
    pub data: Vec<u8>,
}

/// What one poll of a mapping did, over all its streams and shards.
#[derive(Debug, Default)]
pub struct Poll {
    /// Records handed to the function (each twice when duplicating).
    pub records: Vec<Delivered>,
    /// The sequence numbers the function reported in `batchItemFailures`.
    pub reported: Vec<String>,
    /// Per batch that failed, the record it stopped at (the failed record
    /// with the lowest sequence number): the next poll starts there.
    pub failed: Vec<Delivered>,
    /// Records dropped after [`MAX_RETRY_ATTEMPTS`] retries.
    pub discarded: Vec<Delivered>,
}

impl Poll {
    fn extend(&mut self, other: Poll) {
        self.records.extend(other.records);
        self.reported.extend(other.reported);
        self.failed.extend(other.failed);
        self.discarded.extend(other.discarded);
    }
}

/// A record read from a shard.
struct Read {
    delivered: Delivered,
    partition_key: String,
    /// Seconds since the epoch, to the millisecond (Lambda's form).
    arrival: f64,
}

/// The Kinesis deployment; the functions stop when it is dropped.
pub struct Deployment {
    /// The tables and the functions.
    pub functions: Functions,
    /// A client of the moto server's Kinesis.
    pub kinesis: aws_sdk_kinesis::Client,
    /// Streams are `{stream_prefix}{domain}`.
    pub stream_prefix: String,
    /// The saga trigger's mapping: the `cart` and `order` streams.
    pub saga: Mapping,
    /// The projector trigger's mapping: the `order` and `fulfillment` streams.
    pub projector: Mapping,
}

impl Deref for Deployment {
    type Target = Functions;

    fn deref(&self) -> &Functions {
        &self.functions
    }
}

impl Deployment {
    /// Creates the tables and streams on the shared moto server (unique
    /// names) and starts the functions with the `kinesis` feature,
    /// publishing to the streams. The read-model table is created only when
    /// `with_read_model`.
    pub async fn start(with_read_model: bool) -> anyhow::Result<Self> {
        let endpoint = angzarr_testkit::emulators::moto().await.endpoint();
        let prefix = angzarr_testkit::emulators::unique_name("shopk");
        let stream_prefix = format!("{prefix}-events-");
        let kinesis = angzarr_bus_kinesis::Builder::new()
            .with_endpoint(&endpoint)
            .with_region(REGION)
            .with_credentials("testing", "testing")
            .build_client()
            .await?;
        let mut streams = HashMap::new();
        for domain in ["cart", "order", "fulfillment"] {
            let name = format!("{stream_prefix}{domain}");
            create_stream(&kinesis, &name, SHARDS).await?;
            streams.insert(domain, describe(&kinesis, &name).await?);
        }
        let saga = Mapping::new(
            "saga-trigger",
            vec![streams["cart"].clone(), streams["order"].clone()],
        );
        let projector = Mapping::new(
            "projector-trigger",
            vec![streams["order"].clone(), streams["fulfillment"].clone()],
        );
        let messaging = vec![
            ("ANGZARR_MESSAGING__TYPE", "aws_kinesis".to_owned()),
            (
                "ANGZARR_MESSAGING__AWS_KINESIS__STREAM_PREFIX",
                stream_prefix.clone(),
            ),
            ("ANGZARR_MESSAGING__AWS_KINESIS__ENDPOINT", endpoint.clone()),
        ];
        let spec = super::spec(&prefix).features(&["kinesis"]);
        let functions = Functions::start(&spec, endpoint, prefix, messaging).await?;
        if with_read_model {
            functions.create_read_model().await?;
        }
        Ok(Self {
            functions,
            kinesis,
            stream_prefix,
            saga,
            projector,
        })
    }

    /// The stream of `domain`.
    pub fn stream_name(&self, domain: &str) -> String {
        format!("{}{domain}", self.stream_prefix)
    }

    /// Puts `data` on `domain`'s stream with `partition_key` (as a foreign
    /// or broken producer would); returns the record's shard and sequence
    /// number.
    pub async fn put_raw(
        &self,
        domain: &str,
        partition_key: &str,
        data: &[u8],
    ) -> anyhow::Result<(String, String)> {
        let output = self
            .kinesis
            .put_record()
            .stream_name(self.stream_name(domain))
            .partition_key(partition_key)
            .data(Blob::new(data))
            .send()
            .await?;
        Ok((
            output.shard_id().to_owned(),
            output.sequence_number().to_owned(),
        ))
    }

    /// One poll of every stream and shard of `mapping`: one batch each, as
    /// the event source mapping hands them to the function. With
    /// `duplicate`, every event is delivered a second time after the first
    /// (at-least-once delivery); the duplicate's answer is not acted on.
    pub async fn poll(&self, mapping: &Mapping, duplicate: bool) -> anyhow::Result<Poll> {
        let mut state = mapping.state.lock().await;
        let mut poll = Poll::default();
        for stream in &mapping.streams {
            for shard_id in &stream.shards {
                let key = (stream.name.clone(), shard_id.clone());
                let shard = state.entry(key).or_insert_with(|| ShardState {
                    checkpoint: Checkpoint::start(shard_id.clone()),
                    failing: None,
                });
                let polled = self
                    .poll_shard(mapping.function, stream, shard, duplicate)
                    .await
                    .with_context(|| {
                        format!("{} on {} {shard_id}", mapping.function, stream.name)
                    })?;
                poll.extend(polled);
            }
        }
        Ok(poll)
    }

    async fn poll_shard(
        &self,
        function: &str,
        stream: &Stream,
        shard: &mut ShardState,
        duplicate: bool,
    ) -> anyhow::Result<Poll> {
        let batch = self.read(stream, &shard.checkpoint).await?;
        let mut poll = Poll {
            records: batch.iter().map(|r| r.delivered.clone()).collect(),
            ..Poll::default()
        };
        let Some(last) = batch.last() else {
            return Ok(poll);
        };
        let after_batch = Checkpoint {
            shard_id: shard.checkpoint.shard_id.clone(),
            sequence_number: Some(last.delivered.sequence_number.clone()),
        };
        let event = json!({
            "Records": batch.iter().map(|r| event_record(function, stream, r)).collect::<Vec<_>>()
        });
        // What the functions will decode: catch a wrong shape here, plainly.
        serde_json::from_value::<KinesisEvent>(event.clone())
            .context("the poller's event is not a Kinesis event")?;
        let answer = self.invoke(function, &event).await?;
        if duplicate {
            let _ = self.invoke(function, &event).await?;
        }
        let failed = failures(&answer);
        poll.reported.clone_from(&failed);
        if failed.is_empty() {
            shard.checkpoint = after_batch;
            shard.failing = None;
            return Ok(poll);
        }
        // Lambda checkpoints at the failed record with the lowest sequence
        // number; an identifier that is not in the batch fails it whole.
        let first = failed
            .iter()
            .map(|id| {
                batch
                    .iter()
                    .position(|r| r.delivered.sequence_number == *id)
            })
            .collect::<Option<Vec<_>>>()
            .and_then(|positions| positions.into_iter().min())
            .unwrap_or(0);
        let stopped = &batch[first].delivered;
        poll.failed.push(stopped.clone());
        let attempts = match &shard.failing {
            Some((sequence, attempts)) if *sequence == stopped.sequence_number => attempts + 1,
            _ => 1,
        };
        if attempts > MAX_RETRY_ATTEMPTS {
            // Retries exhausted: the batch being retried is dropped and the
            // mapping goes on after it.
            poll.discarded
                .extend(batch[first..].iter().map(|r| r.delivered.clone()));
            shard.checkpoint = after_batch;
            shard.failing = None;
        } else {
            if first > 0 {
                shard.checkpoint.sequence_number =
                    Some(batch[first - 1].delivered.sequence_number.clone());
            }
            shard.failing = Some((stopped.sequence_number.clone(), attempts));
        }
        Ok(poll)
    }

    /// Up to [`BATCH_SIZE`] records after `from`, as the mapping reads them
    /// (raw: undecodable records are handed to the function too).
    async fn read(&self, stream: &Stream, from: &Checkpoint) -> anyhow::Result<Vec<Read>> {
        let request = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&stream.name)
            .shard_id(&from.shard_id);
        let request = match &from.sequence_number {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let mut iterator = request.send().await?.shard_iterator;
        // An empty answer from a shard that is behind its tip is not the
        // end: ask again a few times.
        for _ in 0..5 {
            let Some(current) = iterator.take() else {
                break;
            };
            let output = self
                .kinesis
                .get_records()
                .shard_iterator(current)
                .limit(BATCH_SIZE)
                .send()
                .await?;
            if !output.records().is_empty() {
                return output
                    .records()
                    .iter()
                    .map(|r| {
                        let arrival = r
                            .approximate_arrival_timestamp()
                            .context("a record without ApproximateArrivalTimestamp")?
                            .as_secs_f64();
                        Ok(Read {
                            delivered: Delivered {
                                stream: stream.name.clone(),
                                shard_id: from.shard_id.clone(),
                                sequence_number: r.sequence_number().to_owned(),
                                data: r.data().as_ref().to_vec(),
                            },
                            partition_key: r.partition_key().to_owned(),
                            arrival: (arrival * 1000.0).round() / 1000.0,
                        })
                    })
                    .collect();
            }
            if output.millis_behind_latest().unwrap_or(0) == 0 {
                break;
            }
            iterator = output.next_shard_iterator().map(str::to_owned);
        }
        Ok(Vec::new())
    }

    /// Polls both mappings until a round hands nothing to either; returns
    /// everything the rounds did.
    pub async fn drain(&self, duplicate: bool) -> anyhow::Result<Poll> {
        let mut all = Poll::default();
        for _ in 0..60 {
            let saga = self.poll(&self.saga, duplicate).await?;
            let projector = self.poll(&self.projector, duplicate).await?;
            let idle = saga.records.is_empty() && projector.records.is_empty();
            all.extend(saga);
            all.extend(projector);
            if idle {
                return Ok(all);
            }
        }
        bail!("the streams did not drain in 60 rounds")
    }
}

/// The stream's ARN and shards.
async fn describe(kinesis: &aws_sdk_kinesis::Client, name: &str) -> anyhow::Result<Stream> {
    let summary = kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await?;
    let arn = summary
        .stream_description_summary()
        .map(|s| s.stream_arn().to_owned())
        .filter(|arn| !arn.is_empty())
        .unwrap_or_else(|| format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"));
    let shards = kinesis
        .list_shards()
        .stream_name(name)
        .send()
        .await?
        .shards()
        .iter()
        .map(|s| s.shard_id().to_owned())
        .collect::<Vec<_>>();
    if shards.len() != SHARDS as usize {
        bail!("stream {name} has shards {shards:?}, expected {SHARDS}");
    }
    Ok(Stream {
        name: name.to_owned(),
        arn,
        shards,
    })
}

/// One record of a Kinesis Lambda event, shaped as Lambda sends it.
fn event_record(function: &str, stream: &Stream, read: &Read) -> Value {
    let record = &read.delivered;
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": read.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": STANDARD.encode(&record.data),
            "approximateArrivalTimestamp": read.arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{}:{}", record.shard_id, record.sequence_number),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/{function}"),
        "awsRegion": REGION,
        "eventSourceARN": stream.arn,
    })
}

/// The Kinesis deployment as the host suite drives it: settling drains both
/// mappings, every record delivered twice.
#[async_trait::async_trait]
impl angzarr_testkit::suites::host::ShopHost for Deployment {
    async fn send(
        &self,
        request: angzarr_core::proto::CommandRequest,
    ) -> Result<angzarr_core::proto::CommandResponse, angzarr_core::Error> {
        self.functions.command(&request).await
    }

    async fn settle(&self) -> Result<(), String> {
        let drained = self.drain(true).await.map_err(|e| e.to_string())?;
        if drained.failed.is_empty() {
            Ok(())
        } else {
            Err(format!("records failed: {:?}", drained.failed))
        }
    }

    async fn events(
        &self,
        domain: &str,
        root: uuid::Uuid,
    ) -> Result<Vec<angzarr_core::proto::EventPage>, String> {
        self.functions
            .events(domain, root)
            .await
            .map_err(|e| e.to_string())
    }

    async fn summary(
        &self,
        order: uuid::Uuid,
    ) -> Result<Option<angzarr_testkit::suites::host::Summary>, String> {
        super::suite_summary(&self.functions, order)
            .await
            .map_err(|e| e.to_string())
    }
}
