//! Claim check: payloads too large for a store or a bus are kept in a
//! [`PayloadStore`], and the page carries a [`PayloadReference`] (URI, SHA-256
//! of the content, size) instead. Readers fetch and verify it transparently; a
//! hash mismatch is [`Error::Corrupt`], never accepted.

use std::fmt;

use async_trait::async_trait;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::proto::event_page::Payload;
use crate::proto::{EventBook, EventPage, PayloadReference};

/// Where offloaded payloads are kept (S3, GCS, memory).
#[async_trait]
pub trait PayloadStore: Send + Sync + fmt::Debug {
    /// Stores `content` and returns its reference. Content is addressed by its
    /// hash, so storing the same bytes twice is harmless.
    async fn put(&self, content: Vec<u8>) -> Result<PayloadReference>;

    /// Fetches the content of `reference`, unverified; use [`fetch_verified`].
    async fn get_raw(&self, reference: &PayloadReference) -> Result<Vec<u8>>;
}

/// The SHA-256 of `content`.
pub fn content_hash(content: &[u8]) -> Vec<u8> {
    Sha256::digest(content).to_vec()
}

/// Fetches `reference` and checks its size and hash.
pub async fn fetch_verified(
    store: &dyn PayloadStore,
    reference: &PayloadReference,
) -> Result<Vec<u8>> {
    let content = store.get_raw(reference).await?;
    if content.len() as u64 != reference.original_size
        || content_hash(&content) != reference.content_hash
    {
        return Err(Error::Corrupt(format!(
            "payload `{}` does not match its reference (size {} vs {})",
            reference.uri,
            content.len(),
            reference.original_size
        )));
    }
    Ok(content)
}

/// Moves `page`'s inline event to `store`, leaving a reference.
pub async fn offload_page(store: &dyn PayloadStore, page: &mut EventPage) -> Result<()> {
    if let Some(Payload::Event(event)) = &page.payload {
        let reference = store.put(event.encode_to_vec()).await?;
        page.payload = Some(Payload::External(reference));
    }
    Ok(())
}

/// Brings `page`'s offloaded event back inline, verified.
pub async fn resolve_page(store: &dyn PayloadStore, page: &mut EventPage) -> Result<()> {
    if let Some(Payload::External(reference)) = &page.payload {
        let content = fetch_verified(store, reference).await?;
        let event = prost_types::Any::decode(content.as_slice()).map_err(|e| {
            Error::Corrupt(format!("payload `{}` is not an event: {e}", reference.uri))
        })?;
        page.payload = Some(Payload::Event(event));
    }
    Ok(())
}

/// Offloads pages of `book`, largest first, until the book encodes to at most
/// `limit` bytes. Fails with [`Error::LimitExceeded`] if even a book of
/// references is too large; the book is then left as it was.
pub async fn offload_book_to_fit(
    store: &dyn PayloadStore,
    book: &mut EventBook,
    limit: usize,
) -> Result<()> {
    let mut candidate = book.clone();
    let mut inline: Vec<usize> = (0..candidate.pages.len())
        .filter(|i| matches!(candidate.pages[*i].payload, Some(Payload::Event(_))))
        .collect();
    inline.sort_by_key(|i| std::cmp::Reverse(candidate.pages[*i].encoded_len()));
    let mut inline = inline.into_iter();
    while candidate.encoded_len() > limit {
        let Some(index) = inline.next() else {
            return Err(Error::LimitExceeded {
                what: "message bytes".into(),
                limit: limit as u64,
                actual: candidate.encoded_len() as u64,
            });
        };
        offload_page(store, &mut candidate.pages[index]).await?;
    }
    *book = candidate;
    Ok(())
}

/// Brings every offloaded page of `book` back inline, verified.
pub async fn resolve_book(store: &dyn PayloadStore, book: &mut EventBook) -> Result<()> {
    for page in &mut book.pages {
        resolve_page(store, page).await?;
    }
    Ok(())
}

/// Lower-case hex of `bytes`, for object names.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            hex(&content_hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
