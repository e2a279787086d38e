//! gRPC servers: the runtime's own services, and adapters that serve Rust
//! business logic over gRPC (so it can run as a separate service, or be
//! called exactly as a polyglot service would be).

use std::pin::Pin;
use std::sync::Arc;

use angzarr_core::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorService;
use angzarr_core::proto::command_handler_service_server::CommandHandlerService;
use angzarr_core::proto::event_query_service_server::EventQueryService;
use angzarr_core::proto::process_manager_service_server::ProcessManagerService;
use angzarr_core::proto::projector_service_server::ProjectorService;
use angzarr_core::proto::saga_service_server::SagaService;
use angzarr_core::proto::upcaster_service_server::UpcasterService;
use angzarr_core::proto::{
    AggregateRoot, BusinessResponse, CommandRequest, CommandResponse, ContextualCommand, EventBook,
    EventRequest, FactInjectionResponse, ProcessManagerHandleRequest, ProcessManagerHandleResponse,
    ProcessManagerPrepareRequest, ProcessManagerPrepareResponse, Projection, Query, ReplayRequest,
    ReplayResponse, SagaHandleRequest, SagaResponse, SpeculateCommandHandlerRequest, UpcastRequest,
    UpcastResponse,
};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::logic::{CommandHandler, ProcessManager, Projector, Saga, Upcaster};
use crate::query::EventQueries;
use crate::router::CommandRouter;

type Answer<T> = Result<Response<T>, Status>;

/// A layer for a gRPC server (`tonic::transport::Server::builder().layer(NameUnserved)`)
/// that names the RPC in every UNIMPLEMENTED answer tonic gives on its own: a
/// method or a service the server does not have answers `angzarr does not
/// serve /package.Service/Method` instead of an empty message, so a client
/// written against a larger contract learns which call is missing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NameUnserved;

impl<S> tower::Layer<S> for NameUnserved {
    type Service = NameUnservedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        NameUnservedService { inner }
    }
}

/// The service of [`NameUnserved`].
#[derive(Clone, Debug)]
pub struct NameUnservedService<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for NameUnservedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            let headers = response.headers_mut();
            let unimplemented = headers
                .get("grpc-status")
                .is_some_and(|status| status.as_bytes() == b"12");
            if unimplemented && !headers.contains_key("grpc-message") {
                // Visible ASCII (what a header value takes) other than `%`
                // needs no percent-encoding in `grpc-message`; a path with
                // anything else is left unnamed.
                if !path.contains('%')
                    && let Ok(message) =
                        http::HeaderValue::from_str(&format!("angzarr does not serve {path}"))
                {
                    headers.insert("grpc-message", message);
                }
            }
            Ok(response)
        })
    }
}

fn answer<T>(result: angzarr_core::Result<T>) -> Answer<T> {
    result.map(Response::new).map_err(Status::from)
}

/// `CommandHandlerCoordinatorService`: runs clients' commands through a router.
#[derive(Debug)]
pub struct CoordinatorServer {
    router: Arc<dyn CommandRouter>,
}

impl CoordinatorServer {
    /// Serves commands through `router` (an `AggregateCoordinator` or a `DiscoveryRouter`).
    pub fn new(router: Arc<dyn CommandRouter>) -> Self {
        Self { router }
    }
}

#[tonic::async_trait]
impl CommandHandlerCoordinatorService for CoordinatorServer {
    async fn handle_command(&self, request: Request<CommandRequest>) -> Answer<CommandResponse> {
        answer(self.router.send(request.into_inner()).await)
    }

    async fn handle_event(&self, request: Request<EventRequest>) -> Answer<FactInjectionResponse> {
        answer(self.router.inject(request.into_inner()).await)
    }

    async fn handle_sync_speculative(
        &self,
        request: Request<SpeculateCommandHandlerRequest>,
    ) -> Answer<CommandResponse> {
        answer(self.router.speculate(request.into_inner()).await)
    }

    async fn handle_compensation(&self, _: Request<CommandRequest>) -> Answer<BusinessResponse> {
        Err(Status::unimplemented(
            "angzarr does not serve /angzarr.CommandHandlerCoordinatorService/HandleCompensation: \
             this runtime runs no compensating cascades",
        ))
    }
}

/// `EventQueryService` over an [`EventQueries`].
#[derive(Debug)]
pub struct QueryServer {
    queries: EventQueries,
}

impl QueryServer {
    /// Serves `queries`.
    pub fn new(queries: EventQueries) -> Self {
        Self { queries }
    }
}

type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl EventQueryService for QueryServer {
    async fn get_event_book(&self, request: Request<Query>) -> Answer<EventBook> {
        answer(self.queries.get_event_book(request.into_inner()).await)
    }

    type GetEventsStream = BoxedStream<EventBook>;

    async fn get_events(&self, request: Request<Query>) -> Answer<Self::GetEventsStream> {
        let books = self.queries.get_event_books(request.into_inner()).await?;
        Ok(Response::new(Box::pin(futures::stream::iter(
            books.into_iter().map(Ok),
        ))))
    }

    type SynchronizeStream = BoxedStream<EventBook>;

    /// Answers each query of the stream in turn, in order, until the client
    /// closes it; a failing query ends the stream with its status.
    async fn synchronize(
        &self,
        request: Request<tonic::Streaming<Query>>,
    ) -> Answer<Self::SynchronizeStream> {
        let queries = self.queries.clone();
        let mut incoming = request.into_inner();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(query) = incoming.next().await {
                let answer = match query {
                    Ok(query) => queries.get_event_book(query).await.map_err(Status::from),
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if sender.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    type GetAggregateRootsStream = BoxedStream<AggregateRoot>;

    async fn get_aggregate_roots(&self, _: Request<()>) -> Answer<Self::GetAggregateRootsStream> {
        let queries = self.queries.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let mut roots = queries.aggregate_roots(None);
            while let Some(root) = roots.next().await {
                if sender.send(root.map_err(Status::from)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}

/// Serves a [`CommandHandler`] as `CommandHandlerService`.
#[derive(Debug)]
pub struct CommandHandlerServer(pub Arc<dyn CommandHandler>);

#[tonic::async_trait]
impl CommandHandlerService for CommandHandlerServer {
    async fn handle(&self, request: Request<ContextualCommand>) -> Answer<BusinessResponse> {
        answer(self.0.handle(request.into_inner()).await)
    }

    async fn replay(&self, request: Request<ReplayRequest>) -> Answer<ReplayResponse> {
        answer(self.0.replay(request.into_inner()).await)
    }
}

/// Serves a [`Projector`] as `ProjectorService`.
#[derive(Debug)]
pub struct ProjectorServer(pub Arc<dyn Projector>);

#[tonic::async_trait]
impl ProjectorService for ProjectorServer {
    async fn handle(&self, request: Request<EventBook>) -> Answer<Projection> {
        answer(self.0.handle(request.into_inner()).await)
    }

    async fn handle_speculative(&self, request: Request<EventBook>) -> Answer<Projection> {
        answer(self.0.handle_speculative(request.into_inner()).await)
    }
}

/// Serves a [`Saga`] as `SagaService`.
#[derive(Debug)]
pub struct SagaServer(pub Arc<dyn Saga>);

#[tonic::async_trait]
impl SagaService for SagaServer {
    async fn handle(&self, request: Request<SagaHandleRequest>) -> Answer<SagaResponse> {
        answer(self.0.handle(request.into_inner()).await)
    }
}

/// Serves a [`ProcessManager`] as `ProcessManagerService`.
#[derive(Debug)]
pub struct ProcessManagerServer(pub Arc<dyn ProcessManager>);

#[tonic::async_trait]
impl ProcessManagerService for ProcessManagerServer {
    async fn prepare(
        &self,
        request: Request<ProcessManagerPrepareRequest>,
    ) -> Answer<ProcessManagerPrepareResponse> {
        answer(self.0.prepare(request.into_inner()).await)
    }

    async fn handle(
        &self,
        request: Request<ProcessManagerHandleRequest>,
    ) -> Answer<ProcessManagerHandleResponse> {
        answer(self.0.handle(request.into_inner()).await)
    }
}

/// Serves an [`Upcaster`] as `UpcasterService`.
#[derive(Debug)]
pub struct UpcasterServer(pub Arc<dyn Upcaster>);

#[tonic::async_trait]
impl UpcasterService for UpcasterServer {
    async fn upcast(&self, request: Request<UpcastRequest>) -> Answer<UpcastResponse> {
        answer(self.0.upcast(request.into_inner()).await)
    }
}
