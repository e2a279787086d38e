//! [`SnapshotStore`] conformance.

use std::sync::Arc;

use angzarr_core::SnapshotStore;
use angzarr_core::proto::{Snapshot, SnapshotRetention};

use super::fresh_key;

fn snapshot(sequence: u32, state: &str) -> Snapshot {
    Snapshot {
        sequence,
        state: Some(prost_types::Any {
            type_url: "type.googleapis.com/angzarr.testkit.State".into(),
            value: state.as_bytes().to_vec(),
        }),
        retention: SnapshotRetention::RetentionDefault as i32,
    }
}

/// A snapshot is absent, then stored, then replaced, then deleted; deleting
/// a missing snapshot is not an error.
pub async fn snapshot_put_get_overwrite_delete(store: Arc<dyn SnapshotStore>) {
    let key = fresh_key("snapshot");
    assert_eq!(store.get(&key).await.unwrap(), None);

    let first = snapshot(3, "three");
    store.put(&key, first.clone()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(first));

    let mut second = snapshot(7, "seven");
    second.retention = SnapshotRetention::RetentionPersist as i32;
    store.put(&key, second.clone()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(second));

    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

/// Snapshots of different aggregates never mix.
pub async fn snapshots_are_isolated(store: Arc<dyn SnapshotStore>) {
    let a = fresh_key("snapiso");
    let b = fresh_key("snapiso");
    store.put(&a, snapshot(1, "a")).await.unwrap();
    store.put(&b, snapshot(2, "b")).await.unwrap();
    assert_eq!(store.get(&a).await.unwrap(), Some(snapshot(1, "a")));
    store.delete(&a).await.unwrap();
    assert_eq!(store.get(&b).await.unwrap(), Some(snapshot(2, "b")));
}
