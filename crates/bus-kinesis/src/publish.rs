//! [`KinesisBus`]: one `PutRecord` per event book.

use std::fmt;
use std::sync::Arc;

use angzarr_core::payload::offload_book_to_fit;
use angzarr_core::proto::EventBook;
use angzarr_core::{Error, EventBus, MessageAttributes, PayloadStore, Result};
use async_trait::async_trait;
use aws_sdk_kinesis::primitives::Blob;
use prost::Message;

use angzarr_aws::from_sdk;

/// The Kinesis record limit: data and partition key together, 1 MiB.
pub const RECORD_LIMIT: usize = 1024 * 1024;

/// The largest encoded book one record carries: the limit less the
/// partition key (a hyphenated UUID, 36 bytes).
pub const MAX_BOOK_BYTES: usize = RECORD_LIMIT - 36;

/// Publishes each book to the stream `{stream_prefix}{domain}` with the
/// aggregate's root as partition key, so one aggregate's books land on one
/// shard in publishing order. The data is the book's protobuf encoding.
#[derive(Clone)]
pub struct KinesisBus {
    kinesis: aws_sdk_kinesis::Client,
    stream_prefix: String,
    payload_store: Option<Arc<dyn PayloadStore>>,
}

impl fmt::Debug for KinesisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KinesisBus")
            .field("stream_prefix", &self.stream_prefix)
            .field("payload_store", &self.payload_store)
            .finish_non_exhaustive()
    }
}

impl KinesisBus {
    pub(crate) fn new(
        kinesis: aws_sdk_kinesis::Client,
        stream_prefix: String,
        payload_store: Option<Arc<dyn PayloadStore>>,
    ) -> Self {
        Self {
            kinesis,
            stream_prefix,
            payload_store,
        }
    }

    /// The stream books of `domain` are published to.
    pub fn stream_name(&self, domain: &str) -> String {
        format!("{}{domain}", self.stream_prefix)
    }
}

#[async_trait]
impl EventBus for KinesisBus {
    async fn publish(&self, book: &EventBook) -> Result<()> {
        let attributes = MessageAttributes::of(book)?;
        let mut book = book.clone();
        if book.encoded_len() > MAX_BOOK_BYTES {
            match &self.payload_store {
                Some(store) => offload_book_to_fit(&**store, &mut book, MAX_BOOK_BYTES).await?,
                None => {
                    return Err(Error::LimitExceeded {
                        what: "event book bytes (Kinesis record)".into(),
                        limit: MAX_BOOK_BYTES as u64,
                        actual: book.encoded_len() as u64,
                    });
                }
            }
        }
        self.kinesis
            .put_record()
            .stream_name(self.stream_name(&attributes.domain))
            .partition_key(attributes.ordering_key())
            .data(Blob::new(book.encode_to_vec()))
            .send()
            .await
            .map_err(|e| from_sdk("kinesis", e))?;
        Ok(())
    }

    fn max_message_bytes(&self) -> usize {
        MAX_BOOK_BYTES
    }

    fn offloads(&self) -> bool {
        self.payload_store.is_some()
    }
}

/// Decodes a record's data into its book and the attributes of its cover
/// (Kinesis records carry no attributes of their own).
pub fn decode_record_data(data: &[u8]) -> Result<(EventBook, MessageAttributes)> {
    let book = EventBook::decode(data)?;
    let attributes = MessageAttributes::of(&book)?;
    Ok((book, attributes))
}
