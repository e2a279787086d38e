//! [`SnapshotStore`] on DynamoDB: one item per aggregate, `pk` =
//! `{domain}#{root}`, `snapshot` = the encoded [`Snapshot`] and `sequence`
//! its sequence (for people reading the table). A snapshot too large for an
//! item goes to the payload store when one is configured, and the item keeps
//! `snapshot_ref`, the encoded reference, verified on read.

use std::sync::Arc;

use angzarr_core::payload::fetch_verified;
use angzarr_core::proto::{PayloadReference, Snapshot};
use angzarr_core::{AggregateKey, Error, Result, SnapshotStore};
use async_trait::async_trait;
use prost::Message;

use crate::backend::Shared;
use crate::error::{BACKEND, from_sdk};
use crate::events::MAX_INLINE_EVENT_BYTES;
use crate::item::{PK, b, get_b, n, s};

const SNAPSHOT: &str = "snapshot";
const SNAPSHOT_REF: &str = "snapshot_ref";
const SEQUENCE: &str = "sequence";

/// The [`SnapshotStore`]; made by [`crate::DynamoDb::snapshot_store`].
#[derive(Clone, Debug)]
pub struct DynamoDbSnapshotStore {
    shared: Arc<Shared>,
}

impl DynamoDbSnapshotStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl SnapshotStore for DynamoDbSnapshotStore {
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>> {
        let out = self
            .shared
            .client
            .get_item()
            .table_name(&self.shared.tables.snapshots)
            .key(PK, s(key.storage_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let bytes = if item.contains_key(SNAPSHOT_REF) {
            let reference = PayloadReference::decode(get_b(&item, SNAPSHOT_REF)?)
                .map_err(|e| Error::Corrupt(format!("snapshot reference of {key}: {e}")))?;
            let payloads = self.shared.payloads.as_deref().ok_or_else(|| {
                Error::backend(
                    BACKEND,
                    "a snapshot was offloaded to a payload store, but none is configured",
                    false,
                )
            })?;
            fetch_verified(payloads, &reference).await?
        } else {
            get_b(&item, SNAPSHOT)?.to_vec()
        };
        Snapshot::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| Error::Corrupt(format!("snapshot of {key}: {e}")))
    }

    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()> {
        let encoded = snapshot.encode_to_vec();
        let mut request = self
            .shared
            .client
            .put_item()
            .table_name(&self.shared.tables.snapshots)
            .item(PK, s(key.storage_key()))
            .item(SEQUENCE, n(snapshot.sequence));
        if encoded.len() <= MAX_INLINE_EVENT_BYTES {
            request = request.item(SNAPSHOT, b(encoded));
        } else if let Some(payloads) = self.shared.payloads.as_deref() {
            let reference = payloads.put(encoded).await?;
            request = request.item(SNAPSHOT_REF, b(reference.encode_to_vec()));
        } else {
            return Err(Error::LimitExceeded {
                what: "snapshot bytes".into(),
                limit: MAX_INLINE_EVENT_BYTES as u64,
                actual: encoded.len() as u64,
            });
        }
        request.send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn delete(&self, key: &AggregateKey) -> Result<()> {
        self.shared
            .client
            .delete_item()
            .table_name(&self.shared.tables.snapshots)
            .key(PK, s(key.storage_key()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}
