//! The message types the gateway can read and write as JSON.
//!
//! The protobuf JSON mapping writes a `google.protobuf.Any` as its type URL
//! (`"@type"`) beside the fields of the message it holds, so every command,
//! event and state type a client sends or reads must be known by name. The
//! registry starts with the `angzarr` wire contract and the well-known types;
//! a deployment adds its own (the example's `shop.*`) from a
//! `FileDescriptorSet`.

use std::sync::{Arc, OnceLock};

use angzarr_core::{Error, Result};
use prost::Message;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use prost_types::FileDescriptorSet;

/// The encoded `FileDescriptorSet` of `proto/angzarr` and its imports
/// (compiled by angzarr-core).
pub const ANGZARR_FILE_DESCRIPTOR_SET: &[u8] = angzarr_core::proto::FILE_DESCRIPTOR_SET;

/// Message descriptors by full name, for the protobuf JSON mapping.
///
/// Building the descriptor pool (resolving every name, with the well-known
/// types) takes about a millisecond, which a function would pay at each cold
/// start even when no client speaks JSON. So the sets are kept as given and
/// the pool is built on first use, once per process; [`check`](Self::check)
/// builds it at once (and reports a set that does not resolve).
#[derive(Clone, Debug, Default)]
pub struct TypeRegistry {
    /// What was added, in order, on top of the `angzarr` contract.
    sets: Vec<FileDescriptorSet>,
    /// The pool, or why it could not be built; shared by clones made after
    /// the last `add`.
    pool: Arc<OnceLock<std::result::Result<DescriptorPool, String>>>,
}

impl TypeRegistry {
    /// The `angzarr` wire contract and the well-known types it imports.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the files of an encoded `FileDescriptorSet` (as written by
    /// `protoc --descriptor_set_out --include_imports`, or
    /// `protox::compile(..).encode_to_vec()`). Files already known by the
    /// same name are skipped. Bytes that are not a `FileDescriptorSet` are
    /// refused here; names that do not resolve are reported when the pool is
    /// built.
    pub fn add_encoded(&mut self, file_descriptor_set: &[u8]) -> Result<&mut Self> {
        let set = FileDescriptorSet::decode(file_descriptor_set)
            .map_err(|e| Error::config("gateway.types", format!("bad descriptor set: {e}")))?;
        Ok(self.add(set))
    }

    /// Adds the files of a decoded `FileDescriptorSet` (for instance what
    /// `protox::compile` returns). Files already known by the same name are
    /// skipped.
    pub fn add(&mut self, file_descriptor_set: FileDescriptorSet) -> &mut Self {
        self.sets.push(file_descriptor_set);
        self.pool = Arc::default();
        self
    }

    /// Builds the pool now; an error names the set that does not resolve.
    pub fn check(&self) -> Result<()> {
        self.pool().map(drop)
    }

    /// Whether a message of full name `name` (e.g. `shop.AddItem`) is known.
    pub fn contains(&self, name: &str) -> bool {
        self.pool()
            .is_ok_and(|pool| pool.get_message_by_name(name).is_some())
    }

    /// The descriptor of the message `name`; a missing one is a
    /// configuration error (the built-in ones are always present).
    pub(crate) fn message(&self, name: &str) -> Result<MessageDescriptor> {
        self.pool()?
            .get_message_by_name(name)
            .ok_or_else(|| Error::config("gateway.types", format!("no message type `{name}`")))
    }

    fn pool(&self) -> Result<&DescriptorPool> {
        self.pool
            .get_or_init(|| self.build())
            .as_ref()
            .map_err(|reason| Error::config("gateway.types", reason.clone()))
    }

    fn build(&self) -> std::result::Result<DescriptorPool, String> {
        let mut pool = DescriptorPool::decode(ANGZARR_FILE_DESCRIPTOR_SET)
            .map_err(|e| format!("built-in descriptors: {e}"))?;
        for set in &self.sets {
            pool.add_file_descriptor_set(set.clone())
                .map_err(|e| format!("bad descriptor set: {e}"))?;
        }
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_is_known_without_adding_anything() {
        let types = TypeRegistry::new();
        assert!(types.contains("angzarr.CommandRequest"));
        assert!(!types.contains("shop.AddItem"));
    }

    #[test]
    fn added_sets_are_known_and_clones_see_what_was_added_before() {
        let mut types = TypeRegistry::new();
        assert!(!types.contains("shop.AddItem"));
        types
            .add_encoded(angzarr_example_shop::proto::FILE_DESCRIPTOR_SET)
            .unwrap();
        let copy = types.clone();
        assert!(types.contains("shop.AddItem"));
        assert!(copy.contains("shop.AddItem"));
        types.check().unwrap();
    }

    #[test]
    fn bytes_that_are_no_descriptor_set_are_refused() {
        let error = TypeRegistry::new().add_encoded(b"\xff\xff").unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
    }

    #[test]
    fn a_set_that_does_not_resolve_is_reported_by_check() {
        let broken = prost_types::FileDescriptorSet {
            file: vec![prost_types::FileDescriptorProto {
                name: Some("broken.proto".into()),
                package: Some("broken".into()),
                message_type: vec![prost_types::DescriptorProto {
                    name: Some("Holder".into()),
                    field: vec![prost_types::FieldDescriptorProto {
                        name: Some("missing".into()),
                        number: Some(1),
                        label: Some(1),
                        type_name: Some(".broken.Missing".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut types = TypeRegistry::new();
        types.add(broken);
        let error = types.check().unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
        assert!(!types.contains("angzarr.CommandRequest"));
    }
}
