//! [`SnapshotStore`]: one string per aggregate holding the encoded snapshot.

use std::sync::Arc;

use angzarr_core::proto::Snapshot;
use angzarr_core::{AggregateKey, Error, Result, SnapshotStore};
use async_trait::async_trait;
use prost::Message;

use crate::backend::Shared;

/// The Redis [`SnapshotStore`]; take it from [`crate::RedisBackend::snapshot_store`].
#[derive(Clone, Debug)]
pub struct RedisSnapshotStore {
    shared: Arc<Shared>,
}

impl RedisSnapshotStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl SnapshotStore for RedisSnapshotStore {
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>> {
        let name = self.shared.keys.snapshot(key);
        let raw: Option<Vec<u8>> = self
            .shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::get(&name);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        raw.map(|bytes| {
            Snapshot::decode(bytes.as_slice())
                .map_err(|e| Error::Corrupt(format!("the snapshot of {key} does not decode: {e}")))
        })
        .transpose()
    }

    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()> {
        let name = self.shared.keys.snapshot(key);
        let bytes = snapshot.encode_to_vec();
        self.shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::set(&name, bytes.as_slice());
                async move { cmd.query_async::<()>(&mut conn).await }
            })
            .await
    }

    async fn delete(&self, key: &AggregateKey) -> Result<()> {
        let name = self.shared.keys.snapshot(key);
        self.shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::del(&name);
                async move { cmd.query_async::<()>(&mut conn).await }
            })
            .await
    }
}
