//! [`PubSubBus`]: publishes event books to `{topic_prefix}{domain}`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use angzarr_core::proto::EventBook;
use angzarr_core::{Error, EventBus, MessageAttributes, PayloadStore, Result};
use async_trait::async_trait;
use gcloud_googleapis::pubsub::v1::PubsubMessage;
use gcloud_pubsub::client::Client;
use gcloud_pubsub::publisher::{Publisher, PublisherConfig};
use prost::Message;
use tokio_util::task::TaskTracker;

use crate::admin::PubSubAdmin;
use crate::client::retry_setting;
use crate::config::PubSubSettings;
use crate::error::{BACKEND, SdkError};
use crate::subscriber::PubSubSubscriber;

/// The Pub/Sub event bus. Cheap to clone; build it once per process.
///
/// Each book becomes one message on `{topic_prefix}{domain}` with the
/// attributes `domain`, `root_id`, `correlation_id`, the ordering key = the
/// root id, and the protobuf-encoded book as data. [`EventBus::publish`]
/// returns once the server has accepted the message.
#[derive(Clone)]
pub struct PubSubBus {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    settings: PubSubSettings,
    payloads: Option<Arc<dyn PayloadStore>>,
    /// One publisher per topic, made on first use and kept for the process.
    publishers: Mutex<HashMap<String, Publisher>>,
    /// Every publish from hand-over to the server's answer. Closed from the
    /// start, so `wait` returns whenever it is empty; spawning still works.
    in_flight: TaskTracker,
}

impl fmt::Debug for PubSubBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSubBus")
            .field("settings", &self.inner.settings)
            .field("payload_store", &self.inner.payloads)
            .finish()
    }
}

impl PubSubBus {
    pub(crate) fn new(
        client: Client,
        settings: PubSubSettings,
        payloads: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                settings,
                payloads,
                publishers: Mutex::new(HashMap::new()),
                in_flight: closed_tracker(),
            }),
        }
    }

    /// The validated settings.
    pub fn settings(&self) -> &PubSubSettings {
        &self.inner.settings
    }

    /// The topic id books of `domain` are published to.
    pub fn topic_id(&self, domain: &str) -> Result<String> {
        self.inner.settings.topic_id(domain)
    }

    /// Topic and subscription management (for tests, xtask and set-up).
    pub fn admin(&self) -> PubSubAdmin {
        PubSubAdmin::new(
            self.inner.client.clone(),
            retry_setting(&self.inner.settings),
        )
    }

    /// A pull consumer of `subscription` whose ack deadline is `ack_deadline`
    /// (it must equal the subscription's own deadline, at least 10 s).
    pub fn subscriber(&self, subscription: &str, ack_deadline: Duration) -> PubSubSubscriber {
        PubSubSubscriber::new(
            self.inner.client.subscription(subscription),
            self.inner.settings.clone(),
            ack_deadline,
            self.inner.payloads.clone(),
        )
    }

    /// A pull consumer of the configured subscription
    /// (`messaging.gcp_pubsub.subscription`).
    pub fn default_subscriber(&self, ack_deadline: Duration) -> Result<PubSubSubscriber> {
        let subscription = self.inner.settings.subscription.as_deref().ok_or_else(|| {
            Error::config(
                "messaging.gcp_pubsub.subscription",
                "no subscription is configured for the pull consumer",
            )
        })?;
        Ok(self.subscriber(subscription, ack_deadline))
    }

    /// Waits until every message handed to a publisher was sent and answered.
    /// [`EventBus::publish`] already waits for its own message, so this only
    /// matters when publishes were abandoned midway (a cancelled future); call
    /// it before a function returns. The publishers stay up for the next call.
    pub async fn flush(&self) {
        self.inner.in_flight.wait().await;
    }

    /// Flushes, then stops every publisher's background tasks; for the end of
    /// the process. Publishing afterwards starts them again.
    pub async fn shutdown(&self) {
        self.flush().await;
        let publishers: Vec<Publisher> = {
            let mut cache = self.lock_publishers();
            cache.drain().map(|(_, publisher)| publisher).collect()
        };
        for mut publisher in publishers {
            publisher.shutdown().await;
        }
    }

    fn lock_publishers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Publisher>> {
        self.inner
            .publishers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn publisher(&self, topic: &str) -> Publisher {
        let mut cache = self.lock_publishers();
        if let Some(publisher) = cache.get(topic) {
            return publisher.clone();
        }
        // No bundling: `publish` waits for the server's answer anyway, so
        // waiting for more messages to fill a bundle would only add latency
        // to every call in a short-lived function.
        let config = PublisherConfig {
            workers: self.inner.settings.publisher_workers,
            flush_interval: Duration::from_millis(50),
            bundle_size: 1,
            retry_setting: Some(retry_setting(&self.inner.settings)),
        };
        let publisher = self.inner.client.topic(topic).new_publisher(Some(config));
        cache.insert(topic.to_owned(), publisher.clone());
        publisher
    }

    /// The message for `book`, offloading pages to the payload store when the
    /// book is over the limit.
    async fn message(&self, book: &EventBook) -> Result<(String, PubsubMessage)> {
        let attributes = MessageAttributes::of(book)?;
        let topic = self.topic_id(&attributes.domain)?;
        let limit = self.inner.settings.max_message_bytes;
        let mut data = book.encode_to_vec();
        if data.len() > limit {
            let Some(store) = &self.inner.payloads else {
                return Err(Error::LimitExceeded {
                    what: "message bytes".into(),
                    limit: limit as u64,
                    actual: data.len() as u64,
                });
            };
            let mut smaller = book.clone();
            angzarr_core::payload::offload_book_to_fit(store.as_ref(), &mut smaller, limit).await?;
            data = smaller.encode_to_vec();
        }
        let message = PubsubMessage {
            data,
            ordering_key: attributes.ordering_key().to_owned(),
            attributes: attributes
                .pairs()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            ..Default::default()
        };
        Ok((topic, message))
    }

    /// Publishes `book` and returns the message id the server gave it.
    ///
    /// The hand-over to the publisher and the wait for the answer run in a
    /// task of their own, tracked for [`flush`](Self::flush): a caller that
    /// stops waiting (a cancelled request, a timeout) does not take a message
    /// with it that the publisher's queue holds but has not sent yet.
    pub async fn publish_for_id(&self, book: &EventBook) -> Result<String> {
        let (topic, message) = self.message(book).await?;
        let publisher = self.publisher(&topic);
        let sending = self
            .inner
            .in_flight
            .spawn(async move { publisher.publish(message).await.get().await });
        let answer = sending.await.map_err(|failed| {
            Error::backend(BACKEND, format!("publish task failed: {failed}"), true)
        })?;
        match answer {
            Ok(id) => Ok(id),
            // The publisher's tasks were stopped by `shutdown` while this
            // message waited: nothing was sent, so it is safe to try again.
            Err(status) if status.code() == gcloud_gax::grpc::Code::Cancelled => Err(
                Error::backend(BACKEND, "publisher was shut down before sending", true),
            ),
            Err(status) => {
                let error = Error::from(SdkError::from(status));
                tracing::warn!(topic = %topic, error = %error, "publish failed");
                Err(error)
            }
        }
    }
}

/// A tracker that is closed from the start: tasks can still be spawned on it,
/// and `wait` returns as soon as none is running.
fn closed_tracker() -> TaskTracker {
    let tracker = TaskTracker::new();
    tracker.close();
    tracker
}

#[async_trait]
impl EventBus for PubSubBus {
    /// There is no paused ordering key to resume: this client never pauses a
    /// key after a failure, and this call waits for the server's answer, so a
    /// caller that publishes an aggregate's books one after another (and
    /// retries a failed one before the next) keeps them in order.
    async fn publish(&self, book: &EventBook) -> Result<()> {
        self.publish_for_id(book).await.map(drop)
    }

    fn max_message_bytes(&self) -> usize {
        self.inner.settings.max_message_bytes
    }

    fn offloads(&self) -> bool {
        self.inner.payloads.is_some()
    }
}
