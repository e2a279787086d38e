//! Business logic served over gRPC, called by the runtime.
//!
//! Channels connect lazily (nothing slow at start) and are cheap to clone.
//! Every call carries a deadline: an answer that does not come in time is
//! [`Error::Timeout`] (gRPC DEADLINE_EXCEEDED), an unreachable service
//! [`Error::Unavailable`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::error::wire::error_from_status;
use angzarr_core::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_core::proto::process_manager_service_client::ProcessManagerServiceClient;
use angzarr_core::proto::projector_service_client::ProjectorServiceClient;
use angzarr_core::proto::saga_service_client::SagaServiceClient;
use angzarr_core::proto::upcaster_service_client::UpcasterServiceClient;
use angzarr_core::proto::{
    BusinessResponse, ContextualCommand, EventBook, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, ReplayRequest, ReplayResponse, SagaHandleRequest, SagaResponse, UpcastRequest,
    UpcastResponse,
};
use angzarr_core::{Error, Result};
use async_trait::async_trait;
use tonic::transport::{Channel, Endpoint};

use crate::logic::{CommandHandler, ProcessManager, Projector, Saga, Upcaster};

/// How the runtime reaches one gRPC service.
#[derive(Clone, Debug)]
pub struct GrpcTarget {
    name: String,
    source: Source,
    timeout: Duration,
}

#[derive(Clone, Debug)]
enum Source {
    Fixed(Channel),
    Dynamic(Arc<dyn ChannelSource>),
}

/// Where a target's channel comes from when it can change between calls:
/// say, a process the host supervises, whose restart needs a new connection.
#[async_trait]
pub trait ChannelSource: Send + Sync + std::fmt::Debug {
    /// The channel of the next call (an error fails the call).
    async fn channel(&self) -> Result<Channel>;

    /// A call's connection broke before its answer came.
    fn broken(&self);
}

impl GrpcTarget {
    /// The default deadline of one call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A lazily connected channel to `url` (e.g. `http://127.0.0.1:50051`),
    /// named `name` in errors and logs.
    pub fn new(name: impl Into<String>, url: &str) -> Result<Self> {
        let name = name.into();
        let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| {
            Error::invalid_argument(format!("`{url}` is not a valid URL for {name}: {e}"))
        })?;
        Ok(Self {
            name,
            source: Source::Fixed(
                endpoint
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true)
                    .connect_lazy(),
            ),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// A target whose channel `source` gives at each call, named `name` in
    /// errors and logs.
    pub fn from_source(name: impl Into<String>, source: Arc<dyn ChannelSource>) -> Self {
        Self {
            name: name.into(),
            source: Source::Dynamic(source),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Sets the deadline of each call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) async fn channel(&self) -> Result<Channel> {
        match &self.source {
            Source::Fixed(channel) => Ok(channel.clone()),
            Source::Dynamic(source) => source.channel().await,
        }
    }

    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        // Tells the server our deadline (the `grpc-timeout` header).
        request.set_timeout(self.timeout);
        request
    }

    pub(crate) async fn call<T, F>(&self, call: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // No answer came: the connection failed or broke in the middle
            // of the call (the service died). tonic reports that as a status
            // carrying the transport error as its source (UNKNOWN "transport
            // error"), which a status the service sent never has. The call
            // may be retried.
            Ok(Err(status)) if broken_connection(&status) => {
                if let Source::Dynamic(source) = &self.source {
                    source.broken();
                }
                Err(Error::unavailable(
                    self.name.clone(),
                    format!("{}: {}", status.message(), source_chain(&status)),
                ))
            }
            // tonic reports its own deadline as CANCELLED, which the decoding
            // reads as a timeout.
            Ok(Err(status)) => Err(error_from_status(&self.name, status)),
            Err(_) => Err(Error::Timeout {
                what: self.name.clone(),
            }),
        }
    }
}

/// Whether `status` was made by the client from a transport failure rather
/// than sent by the service.
fn broken_connection(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    status.source().is_some()
        && !matches!(
            status.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        )
}

fn source_chain(status: &tonic::Status) -> String {
    use std::error::Error as _;
    let mut chain = Vec::new();
    let mut next = status.source();
    while let Some(error) = next {
        chain.push(error.to_string());
        next = error.source();
    }
    chain.join(": ")
}

/// A command handler behind `CommandHandlerService`.
#[derive(Clone, Debug)]
pub struct GrpcCommandHandler {
    target: GrpcTarget,
    reads_snapshots: bool,
}

impl GrpcCommandHandler {
    /// Calls the service at `target`, giving it the whole history with each
    /// command (see [`GrpcCommandHandler::reads_snapshots`]).
    pub fn new(target: GrpcTarget) -> Self {
        Self {
            target,
            reads_snapshots: false,
        }
    }

    /// Whether the service folds the snapshot it is given with each command
    /// (off by default: the published client libraries' class-based
    /// aggregates ignore it). On, the runtime may send a snapshot (a stored
    /// one, or its cached state) and only the events after it.
    pub fn reads_snapshots(mut self, on: bool) -> Self {
        self.reads_snapshots = on;
        self
    }
}

#[async_trait]
impl CommandHandler for GrpcCommandHandler {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse> {
        let mut client = CommandHandlerServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.handle(self.target.request(command)))
            .await
    }

    async fn replay(&self, request: ReplayRequest) -> Result<ReplayResponse> {
        let mut client = CommandHandlerServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.replay(self.target.request(request)))
            .await
    }

    fn reads_snapshots(&self) -> bool {
        self.reads_snapshots
    }
}

/// A projector behind `ProjectorService`.
#[derive(Clone, Debug)]
pub struct GrpcProjector {
    target: GrpcTarget,
}

impl GrpcProjector {
    /// Calls the service at `target`; the target's name is the projector's name.
    pub fn new(target: GrpcTarget) -> Self {
        Self { target }
    }
}

#[async_trait]
impl Projector for GrpcProjector {
    fn name(&self) -> &str {
        &self.target.name
    }

    async fn handle(&self, events: EventBook) -> Result<Projection> {
        let mut client = ProjectorServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.handle(self.target.request(events)))
            .await
    }

    async fn handle_speculative(&self, events: EventBook) -> Result<Projection> {
        let mut client = ProjectorServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.handle_speculative(self.target.request(events)))
            .await
    }
}

/// A saga behind `SagaService`.
#[derive(Clone, Debug)]
pub struct GrpcSaga {
    target: GrpcTarget,
}

impl GrpcSaga {
    /// Calls the service at `target`; the target's name is the saga's name.
    pub fn new(target: GrpcTarget) -> Self {
        Self { target }
    }
}

#[async_trait]
impl Saga for GrpcSaga {
    fn name(&self) -> &str {
        &self.target.name
    }

    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse> {
        let mut client = SagaServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.handle(self.target.request(request)))
            .await
    }
}

/// A process manager behind `ProcessManagerService`.
#[derive(Clone, Debug)]
pub struct GrpcProcessManager {
    target: GrpcTarget,
}

impl GrpcProcessManager {
    /// Calls the service at `target`; the target's name is the process
    /// manager's name.
    pub fn new(target: GrpcTarget) -> Self {
        Self { target }
    }
}

#[async_trait]
impl ProcessManager for GrpcProcessManager {
    fn name(&self) -> &str {
        &self.target.name
    }

    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse> {
        let mut client = ProcessManagerServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.prepare(self.target.request(request)))
            .await
    }

    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse> {
        let mut client = ProcessManagerServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.handle(self.target.request(request)))
            .await
    }
}

/// An upcaster behind `UpcasterService`.
#[derive(Clone, Debug)]
pub struct GrpcUpcaster {
    target: GrpcTarget,
}

impl GrpcUpcaster {
    /// Calls the service at `target`.
    pub fn new(target: GrpcTarget) -> Self {
        Self { target }
    }
}

#[async_trait]
impl Upcaster for GrpcUpcaster {
    async fn upcast(&self, request: UpcastRequest) -> Result<UpcastResponse> {
        let mut client = UpcasterServiceClient::new(self.target.channel().await?);
        self.target
            .call(client.upcast(self.target.request(request)))
            .await
    }
}
