//! Business logic served over gRPC, called by the runtime.
//!
//! Channels connect lazily (nothing slow at start) and are cheap to clone.
//! Every call carries a deadline: an answer that does not come in time is
//! [`Error::Timeout`] (gRPC DEADLINE_EXCEEDED), an unreachable service
//! [`Error::Unavailable`].

use std::future::Future;
use std::time::Duration;

use angzarr_core::error::wire::error_from_status;
use angzarr_core::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_core::proto::projector_service_client::ProjectorServiceClient;
use angzarr_core::proto::saga_service_client::SagaServiceClient;
use angzarr_core::proto::upcaster_service_client::UpcasterServiceClient;
use angzarr_core::proto::{
    BusinessResponse, ContextualCommand, EventBook, Projection, ReplayRequest, ReplayResponse,
    SagaHandleRequest, SagaResponse, UpcastRequest, UpcastResponse,
};
use angzarr_core::{Error, Result};
use async_trait::async_trait;
use tonic::transport::{Channel, Endpoint};

use crate::logic::{CommandHandler, Projector, Saga, Upcaster};

/// How the runtime reaches one gRPC service.
#[derive(Clone, Debug)]
pub struct GrpcTarget {
    name: String,
    channel: Channel,
    timeout: Duration,
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
            channel: endpoint
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .connect_lazy(),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// A target over a channel made elsewhere (say, one connecting over a
    /// Unix socket), named `name` in errors and logs.
    pub fn from_channel(name: impl Into<String>, channel: Channel) -> Self {
        Self {
            name: name.into(),
            channel,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Sets the deadline of each call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
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
            // tonic reports its own deadline as CANCELLED, which the decoding
            // reads as a timeout.
            Ok(Err(status)) => Err(error_from_status(&self.name, status)),
            Err(_) => Err(Error::Timeout {
                what: self.name.clone(),
            }),
        }
    }
}

/// A command handler behind `CommandHandlerService`.
#[derive(Clone, Debug)]
pub struct GrpcCommandHandler {
    target: GrpcTarget,
}

impl GrpcCommandHandler {
    /// Calls the service at `target`.
    pub fn new(target: GrpcTarget) -> Self {
        Self { target }
    }
}

#[async_trait]
impl CommandHandler for GrpcCommandHandler {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse> {
        let mut client = CommandHandlerServiceClient::new(self.target.channel.clone());
        self.target
            .call(client.handle(self.target.request(command)))
            .await
    }

    async fn replay(&self, request: ReplayRequest) -> Result<ReplayResponse> {
        let mut client = CommandHandlerServiceClient::new(self.target.channel.clone());
        self.target
            .call(client.replay(self.target.request(request)))
            .await
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
        let mut client = ProjectorServiceClient::new(self.target.channel.clone());
        self.target
            .call(client.handle(self.target.request(events)))
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
        let mut client = SagaServiceClient::new(self.target.channel.clone());
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
        let mut client = UpcasterServiceClient::new(self.target.channel.clone());
        self.target
            .call(client.upcast(self.target.request(request)))
            .await
    }
}
