//! [`SqsSubscription`]: the pull consumer of one queue.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::payload::resolve_book;
use angzarr_core::{Delivery, PayloadStore, Result, Subscription};
use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use crate::message::decode_message;
use angzarr_aws::from_sdk;

/// Longest long poll SQS allows.
const MAX_WAIT_SECONDS: u64 = 20;
/// Most messages one `ReceiveMessage` returns.
const MAX_BATCH: usize = 10;

/// Reads one SQS queue with long polling: `ack` deletes the message, `nack`
/// makes it visible again at once, and a message neither acknowledged nor
/// handed back comes again when its visibility timeout ends.
#[derive(Clone)]
pub struct SqsSubscription {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    visibility_timeout: Option<Duration>,
    payload_store: Option<Arc<dyn PayloadStore>>,
}

impl fmt::Debug for SqsSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsSubscription")
            .field("queue_url", &self.queue_url)
            .field("visibility_timeout", &self.visibility_timeout)
            .finish_non_exhaustive()
    }
}

impl SqsSubscription {
    pub(crate) fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        visibility_timeout: Option<Duration>,
        payload_store: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            sqs,
            queue_url,
            visibility_timeout,
            payload_store,
        }
    }

    /// The queue read.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl Subscription for SqsSubscription {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // SQS waits in whole seconds; round up so a short wait still polls.
        let wait_seconds = wait
            .as_millis()
            .div_ceil(1000)
            .min(MAX_WAIT_SECONDS as u128);
        let mut request = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.min(MAX_BATCH) as i32)
            .wait_time_seconds(wait_seconds as i32)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount);
        if let Some(timeout) = self.visibility_timeout {
            // Whole seconds again, rounded up: a sub-second timeout must not become 0.
            let seconds = timeout.as_millis().div_ceil(1000).max(1);
            request = request.visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX));
        }
        let output = request.send().await.map_err(|e| from_sdk("sqs", e))?;

        let mut deliveries = Vec::new();
        // A payload that cannot be fetched now fails its message only.
        let mut unresolved = None;
        for message in output.messages.unwrap_or_default() {
            let message_id = message.message_id.clone().unwrap_or_default();
            let Some(receipt) = message.receipt_handle.clone() else {
                continue;
            };
            let attributes = message.message_attributes.as_ref();
            let decoded = decode_message(message.body().unwrap_or_default(), |name| {
                attributes?.get(name)?.string_value()
            });
            let mut decoded = match decoded {
                Ok(decoded) => decoded,
                Err(error) => {
                    // Left in flight: it comes back after the visibility
                    // timeout and reaches the queue's dead-letter queue once
                    // its redrive policy's receive count is exhausted.
                    tracing::warn!(%message_id, %error, queue = %self.queue_url, "undecodable SQS message skipped");
                    continue;
                }
            };
            if let Some(store) = &self.payload_store
                && let Err(error) = resolve_book(&**store, &mut decoded.book).await
            {
                // Left in flight like an undecodable message: it comes back
                // after the visibility timeout (a store outage heals), and a
                // corrupt payload ends in the dead-letter queue.
                tracing::warn!(%message_id, %error, queue = %self.queue_url, "offloaded payload not resolved; message left in flight");
                unresolved = Some(error);
                continue;
            }
            let attempt = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|count| count.parse().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                message_id,
                ack_id: receipt,
                book: decoded.book,
                attributes: decoded.attributes,
                attempt,
            });
        }
        match unresolved {
            // Nothing to hand out: say why, so an outage is visible to the caller.
            Some(error) if deliveries.is_empty() => Err(error),
            _ => Ok(deliveries),
        }
    }

    async fn ack(&self, ack_id: &str) -> Result<()> {
        self.sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(ack_id)
            .send()
            .await
            .map_err(|e| from_sdk("sqs", e))?;
        Ok(())
    }

    async fn nack(&self, ack_id: &str) -> Result<()> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(ack_id)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| from_sdk("sqs", e))?;
        Ok(())
    }
}
