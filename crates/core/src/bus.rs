//! Publishing event books, and pulling them back.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::ids::AggregateKey;
use crate::proto::EventBook;

/// The attributes every published event book carries, so subscribers can
/// filter and route without decoding the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageAttributes {
    /// The aggregate's domain (attribute `domain`).
    pub domain: String,
    /// The aggregate's root, hyphenated lowercase (attribute `root_id`).
    pub root_id: String,
    /// The correlation id of the book's cover (attribute `correlation_id`).
    pub correlation_id: String,
}

impl MessageAttributes {
    /// Attribute name of the domain.
    pub const DOMAIN: &'static str = "domain";
    /// Attribute name of the root id.
    pub const ROOT_ID: &'static str = "root_id";
    /// Attribute name of the correlation id.
    pub const CORRELATION_ID: &'static str = "correlation_id";

    /// The attributes of `book`; a book without a valid cover is an error.
    pub fn of(book: &EventBook) -> Result<Self> {
        let key = AggregateKey::from_book(book)?;
        let correlation_id = book
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        Ok(Self {
            domain: key.domain,
            root_id: key.root.to_string(),
            correlation_id,
        })
    }

    /// The attributes as name/value pairs, in a fixed order.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (Self::DOMAIN, &self.domain),
            (Self::ROOT_ID, &self.root_id),
            (Self::CORRELATION_ID, &self.correlation_id),
        ]
    }

    /// Reads the attributes back through `lookup` (e.g. from a message's
    /// attribute map); `domain` and `root_id` are required.
    pub fn from_lookup<'a>(lookup: impl Fn(&str) -> Option<&'a str>) -> Result<Self> {
        let required = |name: &str| {
            lookup(name).map(str::to_owned).ok_or_else(|| {
                Error::invalid_argument(format!("message has no `{name}` attribute"))
            })
        };
        Ok(Self {
            domain: required(Self::DOMAIN)?,
            root_id: required(Self::ROOT_ID)?,
            correlation_id: lookup(Self::CORRELATION_ID).unwrap_or_default().to_owned(),
        })
    }

    /// The key that keeps one aggregate's books in order (Pub/Sub ordering
    /// key, Kinesis partition key): the root id.
    pub fn ordering_key(&self) -> &str {
        &self.root_id
    }

    /// The message group of FIFO queues: `{domain}#{root}`.
    pub fn message_group(&self) -> String {
        format!("{}#{}", self.domain, self.root_id)
    }
}

/// Publishes event books to subscribers, keeping each aggregate's books in order.
#[async_trait]
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes one book with its [`MessageAttributes`]. Returns once the bus
    /// has accepted it. A book without a cover is [`Error::InvalidArgument`];
    /// one larger than [`EventBus::max_message_bytes`] is [`Error::LimitExceeded`].
    async fn publish(&self, book: &EventBook) -> Result<()>;

    /// The largest encoded book this bus carries, in bytes.
    fn max_message_bytes(&self) -> usize;

    /// Whether a book over [`EventBus::max_message_bytes`] is still carried,
    /// its largest events offloaded to a payload store on publish (claim
    /// check). No, unless the bus has a payload store.
    fn offloads(&self) -> bool {
        false
    }
}

/// Refuses a book `bus` could not carry — over its limit on a bus that does
/// not offload — with [`Error::LimitExceeded`], so that an append checks it
/// *before* anything is written: a stored book the bus refuses would reach
/// no consumer.
pub fn check_fits(bus: &dyn EventBus, book: &EventBook) -> Result<()> {
    let (size, limit) = (prost::Message::encoded_len(book), bus.max_message_bytes());
    if size > limit && !bus.offloads() {
        return Err(Error::LimitExceeded {
            what: "event book bytes on the bus (no payload store to offload to)".into(),
            limit: limit as u64,
            actual: size as u64,
        });
    }
    Ok(())
}

/// One received event book, to be acknowledged or handed back.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The message id the bus gave the book when it was published.
    pub message_id: String,
    /// The handle to acknowledge this delivery with (SQS receipt handle,
    /// Pub/Sub ack id); differs between redeliveries of one message.
    pub ack_id: String,
    /// The event book.
    pub book: EventBook,
    /// Its attributes.
    pub attributes: MessageAttributes,
    /// How many times this message has been delivered, starting at 1.
    pub attempt: u32,
}

/// The pull side of a bus: a consumer of one subscription or queue.
///
/// Deliveries are at least once: a delivery that is neither acknowledged nor
/// handed back before the subscription's deadline is delivered again.
#[async_trait]
pub trait Subscription: Send + Sync + fmt::Debug {
    /// Waits up to `wait` for deliveries and returns at most `max` of them,
    /// oldest first; empty when none arrived in time.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>>;
    /// Acknowledges a delivery: it will not be delivered again.
    async fn ack(&self, ack_id: &str) -> Result<()>;
    /// Hands a delivery back for immediate redelivery.
    async fn nack(&self, ack_id: &str) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Cover;

    #[test]
    fn attributes_come_from_the_cover() {
        let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        let book = EventBook {
            cover: Some(key.cover("corr-9")),
            ..Default::default()
        };
        let attrs = MessageAttributes::of(&book).unwrap();
        assert_eq!(attrs.domain, "order");
        assert_eq!(attrs.root_id, key.root.to_string());
        assert_eq!(attrs.correlation_id, "corr-9");
        assert_eq!(attrs.message_group(), key.storage_key());
        let map: std::collections::HashMap<_, _> = attrs.pairs().into_iter().collect();
        let back = MessageAttributes::from_lookup(|n| map.get(n).copied()).unwrap();
        assert_eq!(back, attrs);
    }

    #[test]
    fn a_book_without_cover_has_no_attributes() {
        assert!(MessageAttributes::of(&EventBook::default()).is_err());
        let no_root = EventBook {
            cover: Some(Cover {
                domain: "order".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(MessageAttributes::of(&no_root).is_err());
        assert!(MessageAttributes::from_lookup(|_| None).is_err());
    }
}
