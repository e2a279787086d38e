//! The wire contract, generated from `proto/angzarr/*.proto`.
//!
//! Field numbers are fixed (see `proto/angzarr/types.proto`). Message types
//! implement [`prost::Name`], so they can be packed into and matched against
//! `google.protobuf.Any` with [`crate::any`].
//!
//! Generated service modules:
//! * business logic implements (the runtime is the client):
//!   [`command_handler_service_client`], [`projector_service_client`],
//!   [`saga_service_client`], [`upcaster_service_client`] and their `_server` twins;
//! * the runtime exposes: [`command_handler_coordinator_service_server`],
//!   [`event_query_service_server`] and their `_client` twins.
#![allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

tonic::include_proto!("angzarr");

/// The encoded `google.protobuf.FileDescriptorSet` of the wire contract (with
/// the well-known types it imports): what a reflection library needs to read
/// and write these messages in the protobuf JSON mapping.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/angzarr.fds.bin"));
