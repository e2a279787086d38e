//! [`PayloadStore`] (claim check) conformance.

use std::sync::Arc;

use angzarr_core::payload::{
    content_hash, fetch_verified, offload_book_to_fit, offload_page, resolve_book, resolve_page,
};
use angzarr_core::proto::EventBook;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::{Error, PayloadStore};
use prost::Message;

use super::{fresh_key, sized_event};

/// A stored payload comes back byte for byte, with its SHA-256 and size in the reference.
pub async fn payload_round_trip_is_verified(store: Arc<dyn PayloadStore>) {
    let content: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let reference = store.put(content.clone()).await.unwrap();
    assert_eq!(reference.content_hash, content_hash(&content));
    assert_eq!(reference.original_size, content.len() as u64);
    assert!(!reference.uri.is_empty());
    assert_eq!(fetch_verified(&*store, &reference).await.unwrap(), content);
}

/// A reference whose hash or size does not match the content is refused.
pub async fn mismatched_reference_is_refused(store: Arc<dyn PayloadStore>) {
    let reference = store.put(b"the real content".to_vec()).await.unwrap();
    let mut wrong_hash = reference.clone();
    wrong_hash.content_hash[0] ^= 0xff;
    let err = fetch_verified(&*store, &wrong_hash).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    let mut wrong_size = reference;
    wrong_size.original_size += 1;
    let err = fetch_verified(&*store, &wrong_size).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
}

/// A reference to nothing is an error, not empty content.
pub async fn missing_payload_is_an_error(store: Arc<dyn PayloadStore>) {
    let mut reference = store.put(b"present".to_vec()).await.unwrap();
    reference.uri.push_str("-missing");
    assert!(fetch_verified(&*store, &reference).await.is_err());
}

/// An offloaded page carries a reference and resolves to the original event.
pub async fn page_offloads_and_resolves(store: Arc<dyn PayloadStore>) {
    let original = sized_event("large", 300 * 1024);
    let mut page = original.clone();
    offload_page(&*store, &mut page).await.unwrap();
    assert!(matches!(page.payload, Some(Payload::External(_))));
    assert!(page.encoded_len() < 1024);
    resolve_page(&*store, &mut page).await.unwrap();
    assert_eq!(page, original);
}

/// A book over a bus limit is made to fit by offloading its largest pages
/// only, and resolves back to the original.
pub async fn book_offloads_to_fit_a_limit(store: Arc<dyn PayloadStore>) {
    let key = fresh_key("claim");
    let original = EventBook {
        cover: Some(key.cover("c")),
        snapshot: None,
        pages: vec![
            sized_event("big", 200 * 1024),
            sized_event("small", 10),
            sized_event("medium", 100 * 1024),
        ],
        next_sequence: 3,
    };
    let mut book = original.clone();
    offload_book_to_fit(&*store, &mut book, 64 * 1024)
        .await
        .unwrap();
    assert!(book.encoded_len() <= 64 * 1024);
    assert!(
        matches!(book.pages[1].payload, Some(Payload::Event(_))),
        "small pages stay inline"
    );
    resolve_book(&*store, &mut book).await.unwrap();
    assert_eq!(book, original);

    let err = offload_book_to_fit(&*store, &mut book.clone(), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
}
