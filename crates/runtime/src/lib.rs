//! # angzarr-runtime
//!
//! The coordinators of Angzarr, written against the core traits only:
//!
//! * [`AggregateCoordinator`]: the command pipeline — load snapshot and events,
//!   upcast, call the handler, check the expected sequence per merge strategy,
//!   append atomically, snapshot, publish, answer;
//! * [`ProjectorDispatch`] and [`SagaDispatch`]: deliveries through the firing
//!   guard, so duplicates have no second effect; saga commands routed with
//!   [`CommandRouter`] and refused ones kept as dead letters;
//! * [`ProcessManagerDispatch`]: process managers, their state an aggregate
//!   of their own, their commands sent and facts injected;
//! * [`EventQueries`]: events by range, sequence set, or as of a sequence or time;
//! * business logic behind one interface ([`logic`]): written in Rust with
//!   [`authoring`], or any gRPC service speaking the wire contract ([`grpc`]).

pub mod aggregate;
pub mod authoring;
pub mod dead_letter;
pub mod dispatch;
pub mod grpc;
pub mod logic;
pub mod process;
pub mod query;
pub mod retry;
pub mod router;
mod state_cache;

pub use aggregate::{AggregateCoordinator, AggregateCoordinatorBuilder};
pub use dead_letter::{DeadLetterSink, MemoryDeadLetters};
pub use dispatch::{FiringPolicy, Guarded, ProjectorDispatch, SagaDispatch, SagaOutcome};
pub use logic::{CommandHandler, ProcessManager, Projector, Saga, Upcaster};
pub use process::{ProcessManagerDispatch, ProcessOutcome};
pub use query::EventQueries;
pub use retry::RetryPolicy;
pub use router::{CommandRouter, CommandTransport, DiscoveryRouter, GrpcTransport, command_domain};
