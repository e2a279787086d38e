//! [`SnsBus`]: one SNS `Publish` per event book.

use std::fmt;
use std::sync::Arc;

use angzarr_core::payload::offload_book_to_fit;
use angzarr_core::proto::EventBook;
use angzarr_core::{Error, EventBus, MessageAttributes, PayloadStore, Result};
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use prost::Message;

use crate::message::{ENVELOPE_RESERVE, MAX_BOOK_BYTES, deduplication_id, encode_body};
use angzarr_aws::from_sdk;

/// Publishes each book to the SNS topic `{topic_arn_prefix}{domain}`
/// (`.fifo` appended on FIFO topics), offloading pages to the payload store
/// when the book is larger than [`MAX_BOOK_BYTES`].
#[derive(Clone)]
pub struct SnsBus {
    sns: aws_sdk_sns::Client,
    topic_arn_prefix: String,
    fifo: bool,
    payload_store: Option<Arc<dyn PayloadStore>>,
}

impl fmt::Debug for SnsBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsBus")
            .field("topic_arn_prefix", &self.topic_arn_prefix)
            .field("fifo", &self.fifo)
            .field("payload_store", &self.payload_store)
            .finish_non_exhaustive()
    }
}

impl SnsBus {
    pub(crate) fn new(
        sns: aws_sdk_sns::Client,
        topic_arn_prefix: String,
        fifo: bool,
        payload_store: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            sns,
            topic_arn_prefix,
            fifo,
            payload_store,
        }
    }

    /// The topic ARN books of `domain` are published to.
    pub fn topic_arn(&self, domain: &str) -> String {
        let suffix = if self.fifo { ".fifo" } else { "" };
        format!("{}{domain}{suffix}", self.topic_arn_prefix)
    }

    /// The underlying SNS client.
    pub fn client(&self) -> &aws_sdk_sns::Client {
        &self.sns
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::backend("sns", e.to_string(), false))
}

#[async_trait]
impl EventBus for SnsBus {
    async fn publish(&self, book: &EventBook) -> Result<()> {
        let attributes = MessageAttributes::of(book)?;
        let attribute_bytes: usize = attributes
            .pairs()
            .iter()
            .map(|(name, value)| name.len() + value.len() + "String".len())
            .sum();
        if attribute_bytes > ENVELOPE_RESERVE / 2 {
            return Err(Error::LimitExceeded {
                what: "message attribute bytes".into(),
                limit: (ENVELOPE_RESERVE / 2) as u64,
                actual: attribute_bytes as u64,
            });
        }

        let mut book = book.clone();
        if book.encoded_len() > MAX_BOOK_BYTES {
            match &self.payload_store {
                Some(store) => offload_book_to_fit(&**store, &mut book, MAX_BOOK_BYTES).await?,
                None => {
                    return Err(Error::LimitExceeded {
                        what: "event book bytes (SNS message, before base64)".into(),
                        limit: MAX_BOOK_BYTES as u64,
                        actual: book.encoded_len() as u64,
                    });
                }
            }
        }

        let mut request = self
            .sns
            .publish()
            .topic_arn(self.topic_arn(&attributes.domain))
            .message(encode_body(&book));
        for (name, value) in attributes.pairs() {
            // SNS refuses empty attribute values; an empty correlation id is
            // left out and reads back as empty.
            if !value.is_empty() {
                request = request.message_attributes(name, string_attribute(value)?);
            }
        }
        if self.fifo {
            request = request
                .message_group_id(attributes.message_group())
                .message_deduplication_id(deduplication_id(&book)?);
        }
        request.send().await.map_err(|e| from_sdk("sns", e))?;
        Ok(())
    }

    fn max_message_bytes(&self) -> usize {
        MAX_BOOK_BYTES
    }

    fn offloads(&self) -> bool {
        self.payload_store.is_some()
    }
}
