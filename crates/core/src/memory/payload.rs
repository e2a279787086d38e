use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::error::{Error, Result};
use crate::payload::{PayloadStore, content_hash, hex};
use crate::proto::{PayloadReference, PayloadStorageType};

/// A [`PayloadStore`] in process memory; references are `memory://{sha256}`.
#[derive(Debug, Default)]
pub struct MemoryPayloadStore {
    objects: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryPayloadStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PayloadStore for MemoryPayloadStore {
    async fn put(&self, content: Vec<u8>) -> Result<PayloadReference> {
        let hash = content_hash(&content);
        let uri = format!("memory://{}", hex(&hash));
        let size = content.len() as u64;
        lock(&self.objects).insert(uri.clone(), content);
        Ok(PayloadReference {
            storage_type: PayloadStorageType::Unspecified as i32,
            uri,
            content_hash: hash,
            original_size: size,
            stored_at: Some(std::time::SystemTime::now().into()),
        })
    }

    async fn get_raw(&self, reference: &PayloadReference) -> Result<Vec<u8>> {
        lock(&self.objects)
            .get(&reference.uri)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("payload `{}`", reference.uri)))
    }
}
