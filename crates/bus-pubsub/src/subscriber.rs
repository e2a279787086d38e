//! [`PubSubSubscriber`]: a streaming-pull consumer of one subscription, for
//! the persistent topology.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use angzarr_core::proto::EventBook;
use angzarr_core::{Delivery, Error, MessageAttributes, PayloadStore, Result, Subscription};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use gcloud_gax::grpc::Code;
use gcloud_gax::retry::RetrySetting;
use gcloud_googleapis::pubsub::v1::ModifyAckDeadlineRequest;
use gcloud_pubsub::client::Client;
use gcloud_pubsub::subscriber::{ReceivedMessage, SubscriberConfig};
use gcloud_pubsub::subscription::{MessageStream, SubscribeConfig, Subscription as Sub};
use prost::Message;

use crate::client::{self, Usage, retry_setting};
use crate::config::PubSubSettings;
use crate::error::{BACKEND, SdkError};

/// Books held by the client but not yet handed out. The server leases at most
/// this many unacknowledged messages to the stream, so none waits in a local
/// buffer long enough for its deadline to pass unnoticed.
const MAX_OUTSTANDING: i64 = 100;

/// A consumer of one Pub/Sub subscription over a streaming pull, opened on
/// the first `receive` and reopened after it ends.
///
/// Attempts come from the subscription's `deliveryAttempt` when it has a
/// dead-letter policy; otherwise this consumer counts the deliveries of each
/// message id it saw itself (the count starts again in another process).
/// Messages that are not event books are logged and left unacknowledged, so
/// they reach the dead-letter topic when there is one.
pub struct PubSubSubscriber {
    /// On the request client: acknowledgements and deadline changes.
    subscription: Sub,
    settings: PubSubSettings,
    ack_deadline: Duration,
    payloads: Option<Arc<dyn PayloadStore>>,
    retry: RetrySetting,
    /// The client of the streaming pull, without a request timeout (one
    /// would cut the stream), connected on first use.
    streaming: tokio::sync::OnceCell<Client>,
    stream: tokio::sync::Mutex<Option<MessageStream>>,
    attempts: Mutex<Attempts>,
}

/// Deliveries counted per message id, forgotten when acknowledged.
#[derive(Default)]
struct Attempts {
    per_message: HashMap<String, u32>,
    message_of_ack: HashMap<String, String>,
}

impl fmt::Debug for PubSubSubscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSubSubscriber")
            .field("subscription", &self.subscription.fully_qualified_name())
            .field("ack_deadline", &self.ack_deadline)
            .finish()
    }
}

impl PubSubSubscriber {
    pub(crate) fn new(
        subscription: Sub,
        settings: PubSubSettings,
        ack_deadline: Duration,
        payloads: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            subscription,
            retry: retry_setting(&settings),
            settings,
            ack_deadline,
            payloads,
            streaming: tokio::sync::OnceCell::new(),
            stream: tokio::sync::Mutex::new(None),
            attempts: Mutex::new(Attempts::default()),
        }
    }

    /// The subscription's full name, `projects/P/subscriptions/S`.
    pub fn name(&self) -> &str {
        self.subscription.fully_qualified_name()
    }

    /// Stops the streaming pull and hands back every message received but not
    /// yet returned by `receive`. Call it before the process ends.
    pub async fn close(&self) {
        if let Some(stream) = self.stream.lock().await.take() {
            stream.dispose().await;
        }
    }

    async fn open(&self) -> Result<MessageStream> {
        let config = SubscriberConfig {
            stream_ack_deadline_seconds: self.ack_deadline.as_secs().clamp(10, 600) as i32,
            max_outstanding_messages: MAX_OUTSTANDING,
            retry_setting: Some(streaming_retry(&self.retry)),
            ..Default::default()
        };
        let options = SubscribeConfig::default()
            .with_subscriber_config(config)
            .with_channel_capacity(MAX_OUTSTANDING as usize);
        let client = self
            .streaming
            .get_or_try_init(|| client::connect(&self.settings, Usage::Streaming))
            .await?;
        client
            .subscription(self.subscription.fully_qualified_name())
            .subscribe(Some(options))
            .await
            .map_err(|s| SdkError::from(s).into())
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn delivery(&self, received: ReceivedMessage) -> Option<Delivery> {
        let message = received.message;
        let decoded = decode(&message.data, &message.attributes, self.payloads.as_deref()).await;
        let (book, attributes) = match decoded {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::error!(
                    message_id = %message.message_id,
                    error = %error,
                    "message is not an event book; left unacknowledged"
                );
                return None;
            }
        };
        let attempt = {
            let mut attempts = self.attempts();
            let counted = attempts
                .per_message
                .entry(message.message_id.clone())
                .or_insert(0);
            *counted += 1;
            let counted = *counted;
            attempts
                .message_of_ack
                .insert(received.ack_id.clone(), message.message_id.clone());
            received
                .delivery_attempt
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(counted)
        };
        Some(Delivery {
            message_id: message.message_id,
            ack_id: received.ack_id,
            book,
            attributes,
            attempt,
        })
    }
}

/// The retry policy of the streaming pull. The client library reconnects a
/// stream silently, forever, on every code of this policy; `Unavailable` (the
/// code of a refused or broken connection) is left out, so that an outage
/// ends the stream and [`Subscription::receive`] reports it as a retriable
/// error instead of returning nothing for as long as it lasts. A stream the
/// server closes routinely is reopened by `receive` itself.
fn streaming_retry(requests: &RetrySetting) -> RetrySetting {
    let mut retry = requests.clone();
    retry.codes = vec![
        Code::Unknown,
        Code::Aborted,
        Code::Cancelled,
        Code::DeadlineExceeded,
        Code::Internal,
        Code::ResourceExhausted,
    ];
    retry
}

/// Decodes a message's data and attributes, bringing offloaded pages back.
pub(crate) async fn decode(
    data: &[u8],
    attributes: &HashMap<String, String>,
    payloads: Option<&dyn PayloadStore>,
) -> Result<(EventBook, MessageAttributes)> {
    let mut book = EventBook::decode(data)?;
    let attributes =
        MessageAttributes::from_lookup(|name| attributes.get(name).map(String::as_str))?;
    if let Some(store) = payloads {
        angzarr_core::payload::resolve_book(store, &mut book).await?;
    }
    Ok((book, attributes))
}

#[async_trait]
impl Subscription for PubSubSubscriber {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut guard = self.stream.lock().await;
        let mut received = Vec::new();
        let mut reopened = false;
        let stream = loop {
            let stream = match guard.take() {
                Some(stream) => guard.insert(stream),
                None => guard.insert(self.open().await?),
            };
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_elapsed) => return Ok(Vec::new()),
                Ok(Some(first)) => {
                    received.push(first);
                    break stream;
                }
                // The server closed the stream (it does so from time to time)
                // or it stopped on an error: open a new one, once per call.
                Ok(None) if !reopened => {
                    reopened = true;
                    *guard = None;
                }
                Ok(None) => {
                    *guard = None;
                    return Err(Error::unavailable(
                        BACKEND,
                        format!("streaming pull of {} keeps ending", self.name()),
                    ));
                }
            }
        };
        // Take what is already buffered, without waiting for more.
        while received.len() < max {
            match stream.next().now_or_never() {
                Some(Some(message)) => received.push(message),
                _ => break,
            }
        }
        drop(guard);
        let mut deliveries = Vec::with_capacity(received.len());
        for message in received {
            if let Some(delivery) = self.delivery(message).await {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn ack(&self, ack_id: &str) -> Result<()> {
        self.subscription
            .ack(vec![ack_id.to_owned()])
            .await
            .map_err(SdkError::from)?;
        let mut attempts = self.attempts();
        if let Some(message_id) = attempts.message_of_ack.remove(ack_id) {
            attempts.per_message.remove(&message_id);
        }
        Ok(())
    }

    async fn nack(&self, ack_id: &str) -> Result<()> {
        // A deadline of zero hands the message back for immediate redelivery.
        let request = ModifyAckDeadlineRequest {
            subscription: self.name().to_owned(),
            ack_ids: vec![ack_id.to_owned()],
            ack_deadline_seconds: 0,
        };
        self.subscription
            .get_client()
            .modify_ack_deadline(request, Some(self.retry.clone()))
            .await
            .map_err(SdkError::from)?;
        self.attempts().message_of_ack.remove(ack_id);
        Ok(())
    }
}
