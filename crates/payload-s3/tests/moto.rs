//! The S3 payload store against moto: every payload-store conformance suite,
//! plus the object naming, the missing-object error, a tampered object and
//! an unreachable S3.
//!
//! Run: `cargo test -p angzarr-payload-s3 --test moto`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use angzarr_core::payload::{content_hash, fetch_verified, hex};
use angzarr_core::proto::PayloadStorageType;
use angzarr_core::{Error, PayloadStore};
use angzarr_payload_s3::{Builder, S3PayloadStore};
use angzarr_testkit::emulators;

/// A store on a fresh bucket of the shared moto.
async fn store(prefix: &str) -> S3PayloadStore {
    let moto = emulators::moto().await;
    let bucket = emulators::unique_name("payloads");
    let store = Builder::new()
        .with_bucket(&bucket)
        .with_prefix(prefix)
        .with_region("us-east-1")
        .with_endpoint(moto.endpoint())
        .build()
        .await
        .unwrap();
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    store
}

mod payload_store {
    use super::*;
    angzarr_testkit::payload_store_suites!(async {
        Arc::new(store("claims/").await) as Arc<dyn PayloadStore>
    });
}

/// Objects are named `{prefix}{sha256}` and referenced as `s3://bucket/key`.
#[tokio::test]
async fn objects_are_named_by_their_hash() {
    let store = store("events/").await;
    let content = b"claim me".to_vec();
    let reference = store.put(content.clone()).await.unwrap();
    let hash = hex(&content_hash(&content));
    assert_eq!(
        reference.uri,
        format!("s3://{}/events/{hash}", store.bucket())
    );
    assert_eq!(reference.storage_type, PayloadStorageType::S3 as i32);
    let object = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(format!("events/{hash}"))
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), content.as_slice());
}

/// A reference to an object that is not there is `NotFound`; one to another
/// bucket is refused without a request.
#[tokio::test]
async fn a_missing_object_is_not_found() {
    let store = store("").await;
    let mut reference = store.put(b"present".to_vec()).await.unwrap();
    reference.uri.push_str("-gone");
    let err = store.get_raw(&reference).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    reference.uri = "s3://another-bucket/x".into();
    let err = store.get_raw(&reference).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// An object changed behind its reference (same size, other bytes) is
/// refused by `fetch_verified` as `Corrupt`; the raw bytes are still there.
#[tokio::test]
async fn a_tampered_object_is_corrupt() {
    let store = store("events/").await;
    let content = vec![7u8; 64 * 1024];
    let reference = store.put(content.clone()).await.unwrap();
    assert_eq!(fetch_verified(&store, &reference).await.unwrap(), content);
    let key = format!("events/{}", hex(&content_hash(&content)));
    store
        .client()
        .put_object()
        .bucket(store.bucket())
        .key(&key)
        .body(vec![8u8; content.len()].into())
        .send()
        .await
        .unwrap();
    let err = fetch_verified(&store, &reference).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert_eq!(
        store.get_raw(&reference).await.unwrap().len(),
        content.len()
    );
}

/// An unreachable S3 is a retriable error, for both directions.
#[tokio::test]
async fn an_unreachable_s3_is_retriable() {
    let mut moto = emulators::start_private(emulators::Kind::Moto).await;
    let store = Builder::new()
        .with_bucket("unreachable")
        .with_endpoint(moto.endpoint())
        .with_timeouts(
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(2),
        )
        .with_max_attempts(1)
        .build()
        .await
        .unwrap();
    store
        .client()
        .create_bucket()
        .bucket("unreachable")
        .send()
        .await
        .unwrap();
    let reference = store.put(b"kept".to_vec()).await.unwrap();
    moto.stop();
    let errors = [
        store.put(b"more".to_vec()).await.unwrap_err(),
        store.get_raw(&reference).await.unwrap_err(),
    ];
    for err in errors {
        assert!(err.is_retriable(), "{err:?}");
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    }
}
