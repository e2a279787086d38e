//! The message format: what a published book looks like on SNS and SQS, and
//! how a received SQS message is turned back into a book.
//!
//! The body is the book's protobuf encoding in standard base64 (SNS carries
//! text only), which makes it 4/3 as large. The attributes `domain`,
//! `root_id` and `correlation_id` travel as `String` message attributes. A
//! queue subscribed with raw message delivery receives that body and those
//! attributes as they are; without it, the body is SNS's JSON envelope with
//! the text in `Message` and the attributes in `MessageAttributes`.

use std::collections::HashMap;

use angzarr_core::proto::EventBook;
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, MessageAttributes, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The SNS and SQS message size limit: 256 KiB, body and attributes together.
pub const SNS_MESSAGE_LIMIT: usize = 256 * 1024;

/// Bytes kept free of the limit for the attributes and, when a queue is
/// subscribed without raw delivery, for SNS's JSON envelope around the body.
pub const ENVELOPE_RESERVE: usize = 4 * 1024;

/// The largest encoded book that fits [`SNS_MESSAGE_LIMIT`] once base64
/// encoded (4 characters per 3 bytes) with [`ENVELOPE_RESERVE`] left over:
/// 193,536 bytes.
pub const MAX_BOOK_BYTES: usize = (SNS_MESSAGE_LIMIT - ENVELOPE_RESERVE) / 4 * 3;

/// Longest FIFO deduplication id SQS and SNS accept.
const MAX_DEDUPLICATION_ID: usize = 128;

/// The text body of `book`: its protobuf bytes in base64.
pub fn encode_body(book: &EventBook) -> String {
    STANDARD.encode(book.encode_to_vec())
}

/// Decodes a text body made by [`encode_body`].
pub fn decode_body(body: &str) -> Result<EventBook> {
    let bytes = STANDARD
        .decode(body.trim())
        .map_err(|e| Error::invalid_argument(format!("message body is not base64: {e}")))?;
    Ok(EventBook::decode(bytes.as_slice())?)
}

/// The FIFO deduplication id of `book`: `{domain}#{root}#{first sequence}`
/// (`#n{next_sequence}` for a book without sequenced pages), or its SHA-256
/// in hex when that is longer than 128 characters or holds a character
/// SQS does not allow.
pub fn deduplication_id(book: &EventBook) -> Result<String> {
    let key = AggregateKey::from_book(book)?;
    let first = book.pages.iter().find_map(page_sequence);
    let id = match first {
        Some(first) => format!("{key}#{first}"),
        None => format!("{key}#n{}", book.next_sequence),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || c.is_ascii_punctuation();
    if id.len() <= MAX_DEDUPLICATION_ID && id.chars().all(allowed) {
        Ok(id)
    } else {
        Ok(angzarr_core::payload::hex(&Sha256::digest(id.as_bytes())))
    }
}

/// A received message, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedMessage {
    /// The book (offloaded pages still as references).
    pub book: EventBook,
    /// Its attributes.
    pub attributes: MessageAttributes,
}

/// SNS's JSON envelope, as delivered to a queue without raw delivery.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message: String,
    #[serde(default)]
    message_attributes: HashMap<String, SnsAttribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAttribute {
    value: String,
}

/// Decodes an SQS message body: either the raw base64 text, with
/// `raw_attribute` looking up its SQS message attributes, or SNS's JSON
/// envelope carrying both. Attributes missing from the message are taken
/// from the book's cover.
pub fn decode_message<'a>(
    body: &str,
    raw_attribute: impl Fn(&str) -> Option<&'a str>,
) -> Result<DecodedMessage> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        let envelope: SnsEnvelope = serde_json::from_str(trimmed)
            .map_err(|e| Error::invalid_argument(format!("malformed SNS envelope: {e}")))?;
        if let Some(kind) = envelope.kind.as_deref()
            && kind != "Notification"
        {
            return Err(Error::invalid_argument(format!(
                "SNS envelope of type `{kind}` carries no event book"
            )));
        }
        let book = decode_body(&envelope.message)?;
        let attributes = attributes_or_cover(&book, |name| {
            envelope
                .message_attributes
                .get(name)
                .map(|a| a.value.as_str())
        })?;
        Ok(DecodedMessage { book, attributes })
    } else {
        let book = decode_body(body)?;
        let attributes = attributes_or_cover(&book, raw_attribute)?;
        Ok(DecodedMessage { book, attributes })
    }
}

fn attributes_or_cover<'a>(
    book: &EventBook,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> Result<MessageAttributes> {
    match MessageAttributes::from_lookup(lookup) {
        Ok(attributes) => Ok(attributes),
        Err(_) => MessageAttributes::of(book),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn book(domain: &str) -> EventBook {
        let key = AggregateKey::new(domain, uuid::Uuid::new_v4()).unwrap();
        EventBook {
            cover: Some(key.cover("c")),
            ..Default::default()
        }
    }

    #[test]
    fn the_book_limit_fits_256_kib_after_base64() {
        let encoded = MAX_BOOK_BYTES.div_ceil(3) * 4;
        assert!(encoded + ENVELOPE_RESERVE <= SNS_MESSAGE_LIMIT);
        assert_eq!(MAX_BOOK_BYTES, 193_536);
    }

    #[test]
    fn deduplication_ids_are_short_and_plain() {
        let short = deduplication_id(&book("order")).unwrap();
        assert!(
            short.starts_with("order#") && short.ends_with("#n0"),
            "{short}"
        );
        let long = deduplication_id(&book(&"d".repeat(120))).unwrap();
        assert_eq!(long.len(), 64);
        let odd = deduplication_id(&book("bestellung-ä")).unwrap();
        assert_eq!(odd.len(), 64);
    }

    #[test]
    fn raw_and_enveloped_bodies_decode_alike() {
        let b = book("order");
        let body = encode_body(&b);
        let raw = decode_message(&body, |_| None).unwrap();
        assert_eq!(raw.book, b);
        assert_eq!(raw.attributes.domain, "order");
        let envelope = serde_json::json!({
            "Type": "Notification",
            "MessageId": "m",
            "Message": body,
            "MessageAttributes": {
                "domain": {"Type": "String", "Value": "order"},
                "root_id": {"Type": "String", "Value": "r"},
                "correlation_id": {"Type": "String", "Value": "c2"}
            }
        })
        .to_string();
        let wrapped = decode_message(&envelope, |_| None).unwrap();
        assert_eq!(wrapped.book, b);
        assert_eq!(wrapped.attributes.root_id, "r");
        assert_eq!(wrapped.attributes.correlation_id, "c2");
        assert!(decode_message("%%%", |_| None).is_err());
        assert!(decode_message("{\"Message\": 1}", |_| None).is_err());
    }
}
