//! Business logic over gRPC, and the runtime's own gRPC services.
//!
//! * [`client`]: tonic clients for `CommandHandlerService`, `ProjectorService`,
//!   `SagaService` and `UpcasterService` at `/angzarr.<Service>/<Method>`, so a
//!   service written with the angzarr client libraries in any language is
//!   served unchanged.
//! * [`server`]: the runtime's `CommandHandlerCoordinatorService` and
//!   `EventQueryService`, and adapters that serve Rust business logic over gRPC.
//!
//! Statuses are read back into errors by
//! [`angzarr_core::error::wire::error_from_status`], the one decoding of
//! every transport.

pub mod client;
pub mod server;
