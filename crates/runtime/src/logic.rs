//! The one interface to business logic, whether it is Rust linked in
//! ([`crate::authoring`]) or a gRPC service in any language ([`crate::grpc`]).
//! Each trait mirrors one service of the wire contract.

use std::fmt;

use angzarr_core::Result;
use angzarr_core::proto::{
    BusinessResponse, ContextualCommand, EventBook, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, ReplayRequest, ReplayResponse, SagaHandleRequest, SagaResponse, UpcastRequest,
    UpcastResponse,
};
use async_trait::async_trait;

/// An aggregate's command handler (`CommandHandlerService`).
///
/// A refusal is `Err(Error::Rejected { .. })` (or `Error::InvalidArgument`
/// for a malformed command), or a `RevocationResponse` in the answer.
#[async_trait]
pub trait CommandHandler: Send + Sync + fmt::Debug {
    /// Decides a command against the aggregate's history.
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse>;
    /// Folds a snapshot and events into the aggregate's state.
    async fn replay(&self, request: ReplayRequest) -> Result<ReplayResponse>;

    /// Whether [`CommandHandler::handle`] folds the snapshot it is given
    /// (`ContextualCommand.events.snapshot`) before the pages. When it does
    /// not — the published client libraries' class-based aggregates fold
    /// the pages only — the runtime gives it the whole history from
    /// sequence 0 with no snapshot, and neither caches its state nor makes
    /// snapshots for it.
    fn reads_snapshots(&self) -> bool {
        true
    }
}

/// A projector (`ProjectorService`): builds a read model from events.
#[async_trait]
pub trait Projector: Send + Sync + fmt::Debug {
    /// The projector's name, part of its firing-guard keys.
    fn name(&self) -> &str;
    /// Applies a book of events to the read model.
    async fn handle(&self, events: EventBook) -> Result<Projection>;

    /// What [`Projector::handle`] would answer for `events`, changing no
    /// read model (`HandleSpeculative`). Unsupported unless the projector
    /// says otherwise.
    async fn handle_speculative(&self, events: EventBook) -> Result<Projection> {
        Err(angzarr_core::Error::Unsupported {
            backend: "projector".into(),
            operation: format!(
                "projector `{}` does not project speculatively ({} events offered)",
                self.name(),
                events.pages.len()
            )
            .into(),
        })
    }
}

/// A saga (`SagaService`): turns events of one domain into commands for others.
#[async_trait]
pub trait Saga: Send + Sync + fmt::Debug {
    /// The saga's name, part of its firing-guard keys.
    fn name(&self) -> &str;
    /// Decides which commands a book of source events causes.
    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse>;
}

/// A process manager (`ProcessManagerService`): a stateful coordinator of
/// a workflow across aggregates. Its state is an aggregate of its own
/// (domain = its name, one per correlation id), which the runtime loads and
/// appends to; see [`crate::ProcessManagerDispatch`].
#[async_trait]
pub trait ProcessManager: Send + Sync + fmt::Debug {
    /// The process manager's name: the domain of its state, and part of its
    /// firing-guard keys.
    fn name(&self) -> &str;
    /// Names the aggregates whose next sequences [`ProcessManager::handle`]
    /// needs for a trigger.
    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse>;
    /// Decides, for a trigger and the current state: events of its own,
    /// commands to send, facts to inject.
    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse>;
}

/// An upcaster (`UpcasterService`): brings stored events to the current schema.
#[async_trait]
pub trait Upcaster: Send + Sync + fmt::Debug {
    /// Returns the events, upcast, in the same order and number.
    async fn upcast(&self, request: UpcastRequest) -> Result<UpcastResponse>;
}
