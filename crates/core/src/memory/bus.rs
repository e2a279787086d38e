use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use prost::Message as _;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::lock;
use crate::bus::{Delivery, EventBus, MessageAttributes, Subscription};
use crate::error::{Error, Result};
use crate::proto::EventBook;

/// An [`EventBus`] in process memory with named pull [`MemorySubscription`]s.
///
/// Like a Pub/Sub topic with ordering keys: every subscription gets every
/// book published after it was made (optionally only of some domains),
/// consumers of one subscription name share its messages, and a message is
/// not handed out while an earlier message of the same aggregate is in flight.
#[derive(Clone, Debug)]
pub struct MemoryBus {
    inner: Arc<BusInner>,
}

#[derive(Debug)]
struct BusInner {
    subscriptions: Mutex<HashMap<String, Arc<SubscriptionState>>>,
    max_message_bytes: usize,
}

impl MemoryBus {
    /// The largest book a bus made with [`MemoryBus::new`] carries: 10 MiB,
    /// as Pub/Sub.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

    /// A bus with no subscriptions.
    pub fn new() -> Self {
        Self::with_max_message_bytes(Self::DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A bus that refuses books larger than `max_message_bytes`.
    pub fn with_max_message_bytes(max_message_bytes: usize) -> Self {
        Self {
            inner: Arc::new(BusInner {
                subscriptions: Mutex::default(),
                max_message_bytes,
            }),
        }
    }

    /// The subscription `name`, made on first use, receiving books of every
    /// domain, with a 30 s ack deadline.
    pub fn subscribe(&self, name: &str) -> MemorySubscription {
        self.subscribe_with(name, None, Duration::from_secs(30))
    }

    /// The subscription `name`, made on first use with the given domain
    /// filter and ack deadline (an existing subscription keeps its settings).
    pub fn subscribe_with(
        &self,
        name: &str,
        domains: Option<&[&str]>,
        ack_deadline: Duration,
    ) -> MemorySubscription {
        let state = lock(&self.inner.subscriptions)
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(SubscriptionState {
                    name: name.to_owned(),
                    domains: domains.map(|d| d.iter().map(|s| (*s).to_owned()).collect()),
                    ack_deadline,
                    queue: Mutex::default(),
                    arrived: Notify::new(),
                })
            })
            .clone();
        MemorySubscription { state }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, book: &EventBook) -> Result<()> {
        let attributes = MessageAttributes::of(book)?;
        let size = book.encoded_len();
        if size > self.inner.max_message_bytes {
            return Err(Error::LimitExceeded {
                what: "message bytes".into(),
                limit: self.inner.max_message_bytes as u64,
                actual: size as u64,
            });
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let subscriptions: Vec<_> = lock(&self.inner.subscriptions).values().cloned().collect();
        for subscription in subscriptions {
            if subscription
                .domains
                .as_ref()
                .is_some_and(|d| !d.contains(&attributes.domain))
            {
                continue;
            }
            subscription.enqueue(Message {
                message_id: message_id.clone(),
                book: book.clone(),
                attributes: attributes.clone(),
                attempts: 0,
            });
        }
        Ok(())
    }

    fn max_message_bytes(&self) -> usize {
        self.inner.max_message_bytes
    }
}

#[derive(Clone, Debug)]
struct Message {
    message_id: String,
    book: EventBook,
    attributes: MessageAttributes,
    attempts: u32,
}

impl Message {
    fn group(&self) -> (&str, &str) {
        (&self.attributes.domain, &self.attributes.root_id)
    }
}

#[derive(Debug)]
struct InFlight {
    position: u64,
    message: Message,
    deadline: Instant,
}

#[derive(Debug, Default)]
struct Queue {
    next_position: u64,
    /// Waiting messages by publish position, so a handed-back message
    /// returns to its place.
    pending: BTreeMap<u64, Message>,
    in_flight: HashMap<String, InFlight>,
}

#[derive(Debug)]
struct SubscriptionState {
    name: String,
    domains: Option<HashSet<String>>,
    ack_deadline: Duration,
    queue: Mutex<Queue>,
    arrived: Notify,
}

impl SubscriptionState {
    fn enqueue(&self, message: Message) {
        let mut queue = lock(&self.queue);
        let position = queue.next_position;
        queue.next_position += 1;
        queue.pending.insert(position, message);
        drop(queue);
        self.arrived.notify_waiters();
    }

    /// Hands out up to `max` deliverable messages; also returns when the
    /// earliest in-flight deadline passes, so the caller can wait until then.
    fn take(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut queue = lock(&self.queue);
        let expired: Vec<String> = queue
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for ack_id in expired {
            if let Some(flight) = queue.in_flight.remove(&ack_id) {
                queue.pending.insert(flight.position, flight.message);
            }
        }
        let locked: HashSet<(String, String)> = queue
            .in_flight
            .values()
            .map(|f| {
                let (d, r) = f.message.group();
                (d.to_owned(), r.to_owned())
            })
            .collect();
        let chosen: Vec<u64> = queue
            .pending
            .iter()
            .filter(|(_, m)| {
                let (d, r) = m.group();
                !locked.contains(&(d.to_owned(), r.to_owned()))
            })
            .map(|(position, _)| *position)
            .take(max)
            .collect();
        let mut deliveries = Vec::with_capacity(chosen.len());
        for position in chosen {
            let Some(mut message) = queue.pending.remove(&position) else {
                continue;
            };
            message.attempts += 1;
            let ack_id = format!("{}/{}/{}", self.name, message.message_id, message.attempts);
            deliveries.push(Delivery {
                message_id: message.message_id.clone(),
                ack_id: ack_id.clone(),
                book: message.book.clone(),
                attributes: message.attributes.clone(),
                attempt: message.attempts,
            });
            queue.in_flight.insert(
                ack_id,
                InFlight {
                    position,
                    message,
                    deadline: now + self.ack_deadline,
                },
            );
        }
        let next_deadline = queue.in_flight.values().map(|f| f.deadline).min();
        (deliveries, next_deadline)
    }
}

/// A pull consumer of one [`MemoryBus`] subscription.
#[derive(Clone, Debug)]
pub struct MemorySubscription {
    state: Arc<SubscriptionState>,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let give_up = Instant::now() + wait;
        loop {
            // Register interest before looking, so a publish in between is not missed.
            let arrived = self.state.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let (deliveries, next_deadline) = self.state.take(max.max(1));
            if !deliveries.is_empty() || Instant::now() >= give_up {
                return Ok(deliveries);
            }
            let wake = next_deadline.map_or(give_up, |d| d.min(give_up));
            let _ = tokio::time::timeout_at(wake, arrived).await;
        }
    }

    async fn ack(&self, ack_id: &str) -> Result<()> {
        let removed = lock(&self.state.queue).in_flight.remove(ack_id);
        if removed.is_none() {
            return Err(Error::NotFound(format!(
                "delivery `{ack_id}` is not in flight (acknowledged already, or its deadline passed)"
            )));
        }
        // The aggregate's next message may now be handed out.
        self.state.arrived.notify_waiters();
        Ok(())
    }

    async fn nack(&self, ack_id: &str) -> Result<()> {
        let mut queue = lock(&self.state.queue);
        let flight = queue
            .in_flight
            .remove(ack_id)
            .ok_or_else(|| Error::NotFound(format!("delivery `{ack_id}` is not in flight")))?;
        queue.pending.insert(flight.position, flight.message);
        drop(queue);
        self.state.arrived.notify_waiters();
        Ok(())
    }
}
