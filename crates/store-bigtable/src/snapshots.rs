//! [`SnapshotStore`] on Bigtable: row `{domain}#{root}`, family `snapshot`,
//! cells `data` (the encoded `Snapshot`) and `sequence` (decimal, for
//! operators reading the table).

use std::sync::Arc;

use angzarr_core::proto::Snapshot;
use angzarr_core::{AggregateKey, Result, SnapshotStore};
use async_trait::async_trait;
use bigtable_rs::google::bigtable::v2::{MutateRowRequest, ReadRowsRequest};
use prost::Message;

use crate::client::Client;
use crate::error::corrupt;
use crate::layout::{
    SNAPSHOT_FAMILY, cell_value, delete_family, delete_row, latest, one_row, set_cell,
};

const DATA: &str = "data";
const SEQUENCE: &str = "sequence";

/// The [`SnapshotStore`] of a [`crate::BigtableBackend`].
#[derive(Clone, Debug)]
pub struct BigtableSnapshotStore {
    client: Arc<Client>,
    table: String,
}

impl BigtableSnapshotStore {
    pub(crate) fn new(client: Arc<Client>, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl SnapshotStore for BigtableSnapshotStore {
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>> {
        let request = ReadRowsRequest {
            table_name: self.table.clone(),
            rows: one_row(key.storage_key().into_bytes()),
            filter: Some(latest()),
            rows_limit: 1,
            ..Default::default()
        };
        let rows = self.client.read_rows(request).await?;
        let Some((_, cells)) = rows.first() else {
            return Ok(None);
        };
        let data = cell_value(cells, DATA)
            .ok_or_else(|| corrupt(format!("snapshot of {key} has no data cell")))?;
        Snapshot::decode(data)
            .map(Some)
            .map_err(|e| corrupt(format!("snapshot of {key} does not decode: {e}")))
    }

    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()> {
        // Clearing the family first leaves exactly one version, whatever the
        // garbage collector has not yet removed.
        let request = MutateRowRequest {
            table_name: self.table.clone(),
            row_key: key.storage_key().into_bytes(),
            mutations: vec![
                delete_family(SNAPSHOT_FAMILY),
                set_cell(SNAPSHOT_FAMILY, DATA, snapshot.encode_to_vec(), -1),
                set_cell(SNAPSHOT_FAMILY, SEQUENCE, snapshot.sequence.to_string(), -1),
            ],
            ..Default::default()
        };
        self.client.mutate_row(request).await
    }

    async fn delete(&self, key: &AggregateKey) -> Result<()> {
        let request = MutateRowRequest {
            table_name: self.table.clone(),
            row_key: key.storage_key().into_bytes(),
            mutations: vec![delete_row()],
            ..Default::default()
        };
        self.client.mutate_row(request).await
    }
}
