//! [`KinesisSubscription`]: the [`Subscription`] view of a stream, for the
//! persistent topology and local runs.
//!
//! Kinesis has no per-record acknowledgement, so this keeps, in process,
//! the records handed out and not yet acknowledged, and redelivers them
//! after the ack deadline or a `nack`. While one of an aggregate's books is
//! unacknowledged, its later books wait, so redeliveries cannot reorder an
//! aggregate. The checkpoint of each shard moves only over acknowledged
//! records ([`KinesisSubscription::checkpoints`]); store it to resume
//! another process with [`KinesisSubscription::starting_at`].

use std::fmt;
use std::time::{Duration, Instant};

use angzarr_core::{Delivery, Error, Result, Subscription};
use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::reader::{Checkpoint, KinesisReader};

/// Records held unacknowledged per shard before reading stops.
const MAX_PENDING: usize = 1_000;
/// Pause between polls while waiting for records (Kinesis allows 5
/// `GetRecords` per second per shard).
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A record handed out (or about to be) and not yet acknowledged.
#[derive(Debug)]
struct Pending {
    delivery: Delivery,
    checkpoint: Checkpoint,
    deliveries: u32,
    leased_until: Option<Instant>,
    acked: bool,
}

#[derive(Debug)]
struct Shard {
    /// Where reading new records continues.
    read_from: Checkpoint,
    /// Everything up to here is acknowledged.
    committed: Checkpoint,
    /// Read order; acknowledged records leave from the front.
    pending: Vec<Pending>,
}

#[derive(Debug, Default)]
struct State {
    shards: Option<Vec<Shard>>,
    start: Vec<Checkpoint>,
}

/// A [`Subscription`] over every shard of one stream.
pub struct KinesisSubscription {
    reader: KinesisReader,
    ack_deadline: Duration,
    state: Mutex<State>,
}

impl fmt::Debug for KinesisSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KinesisSubscription")
            .field("stream", &self.reader.stream_name())
            .field("ack_deadline", &self.ack_deadline)
            .finish_non_exhaustive()
    }
}

impl KinesisSubscription {
    /// Reads every shard of `reader`'s stream from its oldest record;
    /// unacknowledged deliveries come again after `ack_deadline`.
    pub fn new(reader: KinesisReader, ack_deadline: Duration) -> Self {
        Self {
            reader,
            ack_deadline,
            state: Mutex::new(State::default()),
        }
    }

    /// Resumes the shards named in `checkpoints` from there (other shards
    /// start at their oldest record).
    pub fn starting_at(self, checkpoints: Vec<Checkpoint>) -> Self {
        Self {
            state: Mutex::new(State {
                shards: None,
                start: checkpoints,
            }),
            ..self
        }
    }

    /// The checkpoint of every shard: all records up to it are acknowledged.
    pub async fn checkpoints(&self) -> Vec<Checkpoint> {
        let state = self.state.lock().await;
        match &state.shards {
            Some(shards) => shards.iter().map(|s| s.committed.clone()).collect(),
            None => state.start.clone(),
        }
    }

    async fn ensure_shards<'a>(&self, state: &'a mut State) -> Result<&'a mut Vec<Shard>> {
        if state.shards.is_none() {
            let shards = self
                .reader
                .shards()
                .await?
                .into_iter()
                .map(|id| {
                    let start = state
                        .start
                        .iter()
                        .find(|c| c.shard_id == id)
                        .cloned()
                        .unwrap_or_else(|| Checkpoint::start(id));
                    Shard {
                        read_from: start.clone(),
                        committed: start,
                        pending: Vec::new(),
                    }
                })
                .collect();
            state.shards = Some(shards);
        }
        state
            .shards
            .as_mut()
            .ok_or_else(|| Error::backend("kinesis", "shards not listed", true))
    }

    /// Hands out up to `max` pending records that are due and not behind
    /// an unacknowledged book of the same aggregate.
    fn take_due(shards: &mut [Shard], max: usize, deadline: Duration) -> Vec<Delivery> {
        let now = Instant::now();
        let mut out = Vec::new();
        for shard in shards {
            let mut blocked = std::collections::HashSet::new();
            for pending in shard.pending.iter_mut().filter(|p| !p.acked) {
                if out.len() >= max {
                    return out;
                }
                let root = pending.delivery.attributes.root_id.clone();
                let due = pending.leased_until.is_none_or(|until| until <= now);
                if due && !blocked.contains(&root) {
                    pending.deliveries += 1;
                    pending.leased_until = Some(now + deadline);
                    let mut delivery = pending.delivery.clone();
                    delivery.attempt = pending.deliveries;
                    delivery.ack_id = ack_id(&pending.checkpoint, pending.deliveries);
                    out.push(delivery);
                }
                blocked.insert(root);
            }
        }
        out
    }

    async fn read_new(&self, shards: &mut [Shard]) -> Result<()> {
        for shard in shards {
            if shard.pending.len() >= MAX_PENDING {
                continue;
            }
            let batch = self
                .reader
                .read(&shard.read_from, MAX_PENDING - shard.pending.len())
                .await?;
            shard.read_from = batch.checkpoint;
            shard
                .pending
                .extend(batch.records.into_iter().map(|record| Pending {
                    delivery: record.delivery,
                    checkpoint: record.checkpoint,
                    deliveries: 0,
                    leased_until: None,
                    acked: false,
                }));
        }
        Ok(())
    }

    fn find<'a>(shards: &'a mut [Shard], ack_id: &str) -> Result<(&'a mut Shard, usize)> {
        let unknown = || Error::invalid_argument(format!("unknown or outdated ack id `{ack_id}`"));
        let (shard_id, rest) = ack_id.split_once('/').ok_or_else(unknown)?;
        let (sequence, deliveries) = rest.rsplit_once('/').ok_or_else(unknown)?;
        let deliveries: u32 = deliveries.parse().map_err(|_| unknown())?;
        let shard = shards
            .iter_mut()
            .find(|s| s.read_from.shard_id == shard_id)
            .ok_or_else(unknown)?;
        let index = shard
            .pending
            .iter()
            .position(|p| {
                !p.acked
                    && p.deliveries == deliveries
                    && p.checkpoint.sequence_number.as_deref() == Some(sequence)
            })
            .ok_or_else(unknown)?;
        Ok((shard, index))
    }
}

/// `{shard}/{sequence}/{delivery count}`: differs between redeliveries.
fn ack_id(checkpoint: &Checkpoint, deliveries: u32) -> String {
    format!(
        "{}/{}/{deliveries}",
        checkpoint.shard_id,
        checkpoint.sequence_number.as_deref().unwrap_or_default()
    )
}

#[async_trait]
impl Subscription for KinesisSubscription {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let give_up = Instant::now() + wait;
        loop {
            {
                let mut state = self.state.lock().await;
                let shards = self.ensure_shards(&mut state).await?;
                let mut out = Self::take_due(shards, max, self.ack_deadline);
                if out.len() < max {
                    self.read_new(shards).await?;
                    out.extend(Self::take_due(shards, max - out.len(), self.ack_deadline));
                }
                if !out.is_empty() {
                    return Ok(out);
                }
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(Vec::new());
            }
            tokio::time::sleep(POLL_INTERVAL.min(give_up - now)).await;
        }
    }

    async fn ack(&self, ack_id: &str) -> Result<()> {
        let mut state = self.state.lock().await;
        let shards = self.ensure_shards(&mut state).await?;
        let (shard, index) = Self::find(shards, ack_id)?;
        shard.pending[index].acked = true;
        // The checkpoint moves over the acknowledged prefix only.
        let done = shard.pending.iter().take_while(|p| p.acked).count();
        if let Some(last) = shard.pending.drain(..done).next_back() {
            shard.committed = last.checkpoint;
        }
        Ok(())
    }

    async fn nack(&self, ack_id: &str) -> Result<()> {
        let mut state = self.state.lock().await;
        let shards = self.ensure_shards(&mut state).await?;
        let (shard, index) = Self::find(shards, ack_id)?;
        shard.pending[index].leased_until = None;
        Ok(())
    }
}
