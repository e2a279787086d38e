//! The message types the gateway can read and write as JSON.
//!
//! The protobuf JSON mapping writes a `google.protobuf.Any` as its type URL
//! (`"@type"`) beside the fields of the message it holds, so every command,
//! event and state type a client sends or reads must be known by name. The
//! registry starts with the `angzarr` wire contract and the well-known types;
//! a deployment adds its own (the example's `shop.*`) from a
//! `FileDescriptorSet`.

use angzarr_core::{Error, Result};
use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The encoded `FileDescriptorSet` of `proto/angzarr` and its imports
/// (compiled by angzarr-core).
pub const ANGZARR_FILE_DESCRIPTOR_SET: &[u8] = angzarr_core::proto::FILE_DESCRIPTOR_SET;

/// Message descriptors by full name, for the protobuf JSON mapping.
#[derive(Clone, Debug)]
pub struct TypeRegistry {
    pool: DescriptorPool,
}

impl TypeRegistry {
    /// The `angzarr` wire contract and the well-known types it imports.
    pub fn new() -> Result<Self> {
        let pool = DescriptorPool::decode(ANGZARR_FILE_DESCRIPTOR_SET)
            .map_err(|e| Error::config("gateway.types", format!("built-in descriptors: {e}")))?;
        Ok(Self { pool })
    }

    /// Adds the files of an encoded `FileDescriptorSet` (as written by
    /// `protoc --descriptor_set_out --include_imports`, or
    /// `protox::compile(..).encode_to_vec()`). Files already known by the
    /// same name are skipped.
    pub fn add_encoded(&mut self, file_descriptor_set: &[u8]) -> Result<&mut Self> {
        self.pool
            .decode_file_descriptor_set(file_descriptor_set)
            .map_err(|e| Error::config("gateway.types", format!("bad descriptor set: {e}")))?;
        Ok(self)
    }

    /// Adds the files of a decoded `FileDescriptorSet` (for instance what
    /// `protox::compile` returns). Files already known by the same name are
    /// skipped.
    pub fn add(
        &mut self,
        file_descriptor_set: prost_types::FileDescriptorSet,
    ) -> Result<&mut Self> {
        self.pool
            .add_file_descriptor_set(file_descriptor_set)
            .map_err(|e| Error::config("gateway.types", format!("bad descriptor set: {e}")))?;
        Ok(self)
    }

    /// Whether a message of full name `name` (e.g. `shop.AddItem`) is known.
    pub fn contains(&self, name: &str) -> bool {
        self.pool.get_message_by_name(name).is_some()
    }

    /// The descriptor of the message `name`; a missing one is a
    /// configuration error (the built-in ones are always present).
    pub(crate) fn message(&self, name: &str) -> Result<MessageDescriptor> {
        self.pool
            .get_message_by_name(name)
            .ok_or_else(|| Error::config("gateway.types", format!("no message type `{name}`")))
    }
}
