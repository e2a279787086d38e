//! An error raised behind another host's `CommandHandlerCoordinatorService`
//! reaches the caller of a [`DiscoveryRouter`] as the same error — variant,
//! fields, message and retriability — over a real gRPC connection, for every
//! variant. (A `SequenceConflict` used to come back as a `Rejected`.)
//!
//! Run with `cargo test -p angzarr-runtime --test grpc_errors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use angzarr_core::memory::StaticDiscovery;
use angzarr_core::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_core::proto::{CommandBook, CommandRequest, CommandResponse, Cover};
use angzarr_core::{Error, Result};
use angzarr_runtime::grpc::server::CoordinatorServer;
use angzarr_runtime::{CommandRouter, DiscoveryRouter};
use angzarr_testkit::errors::{every_variant, observed};
use async_trait::async_trait;

/// Fails each command with the next error of its list.
#[derive(Debug)]
struct Failing(Mutex<Vec<Error>>);

#[async_trait]
impl CommandRouter for Failing {
    async fn send(&self, _: CommandRequest) -> Result<CommandResponse> {
        Err(self.0.lock().unwrap().remove(0))
    }
}

fn command() -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover {
                domain: "cart".into(),
                ..Default::default()
            }),
            pages: vec![],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_error_crosses_the_grpc_router_unchanged() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    let failing = Arc::new(Failing(Mutex::new(every_variant())));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CommandHandlerCoordinatorServiceServer::new(
                CoordinatorServer::new(failing),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let discovery = StaticDiscovery::new().with_aggregate("cart", url.parse().unwrap());
    let router = DiscoveryRouter::new(None, Arc::new(discovery));
    for expected in every_variant() {
        let error = router.send(command()).await.unwrap_err();
        assert_eq!(observed(&error), observed(&expected));
    }
}

/// A call the server does not have, by path, with any protobuf request.
async fn call(url: &str, path: &'static str) -> tonic::Status {
    let channel = tonic::transport::Endpoint::from_shared(url.replace("grpc://", "http://"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary::<_, CommandResponse, _>(
        tonic::Request::new(CommandRequest::default()),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn an_rpc_the_server_does_not_have_is_unimplemented_and_named() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    let failing = Arc::new(Failing(Mutex::new(Vec::new())));
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(angzarr_runtime::grpc::server::NameUnserved)
            .add_service(CommandHandlerCoordinatorServiceServer::new(
                CoordinatorServer::new(failing),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    for path in [
        // A method the server's service does not have.
        "/angzarr.CommandHandlerCoordinatorService/HandleCascade",
        // A service it does not have.
        "/angzarr.ProcessManagerCoordinatorService/HandleCommand",
    ] {
        let status = call(&url, path).await;
        assert_eq!(
            status.code(),
            tonic::Code::Unimplemented,
            "{path}: {status:?}"
        );
        assert_eq!(
            status.message(),
            format!("angzarr does not serve {path}"),
            "{path}"
        );
    }
}

/// Fact injection and speculative commands reach another host's coordinator
/// over gRPC through the [`DiscoveryRouter`]; `Synchronize` answers a stream
/// of queries in order; `HandleCompensation` is UNIMPLEMENTED and named.
#[tokio::test]
async fn facts_speculation_and_synchronize_cross_grpc() {
    use angzarr_core::memory::{MemoryBus, MemoryEventStore};
    use angzarr_core::proto::event_query_service_client::EventQueryServiceClient;
    use angzarr_core::proto::event_query_service_server::EventQueryServiceServer;
    use angzarr_core::proto::page_header::SequenceType;
    use angzarr_core::proto::{EventBook, EventRequest, PageHeader, Query};
    use angzarr_core::{AggregateKey, EventStore};
    use angzarr_runtime::grpc::server::QueryServer;
    use angzarr_runtime::{AggregateCoordinator, EventQueries};

    let store = Arc::new(MemoryEventStore::new());
    let clock = angzarr_runtime::authoring::AggregateLogic::<prost_types::Timestamp>::new("clock")
        .handle(|_: &prost_types::Timestamp, _: prost_types::Duration| {
            Ok(vec![angzarr_core::any::pack(
                &prost_types::Timestamp::default(),
            )])
        });
    let coordinator = Arc::new(
        AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
            .handler("clock", Arc::new(clock))
            .build(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CommandHandlerCoordinatorServiceServer::new(
                CoordinatorServer::new(coordinator),
            ))
            .add_service(EventQueryServiceServer::new(QueryServer::new(
                EventQueries::new(store.clone()),
            )))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let discovery = StaticDiscovery::new().with_aggregate("clock", url.parse().unwrap());
    let router = DiscoveryRouter::new(None, Arc::new(discovery));
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();

    let mut fact = angzarr_core::proto::EventPage {
        header: Some(PageHeader {
            sequence_type: Some(SequenceType::ExternalDeferred(
                angzarr_core::proto::ExternalDeferredSequence {
                    external_id: "tick-1".into(),
                    description: String::new(),
                },
            )),
        }),
        ..Default::default()
    };
    fact.payload = Some(angzarr_core::proto::event_page::Payload::Event(
        angzarr_core::any::pack(&prost_types::Timestamp::default()),
    ));
    let request = EventRequest {
        events: Some(EventBook {
            cover: Some(key.cover("c")),
            pages: vec![fact],
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = router.inject(request.clone()).await.unwrap();
    assert!(!first.already_processed);
    assert!(router.inject(request).await.unwrap().already_processed);
    assert_eq!(store.next_sequence(&key).await.unwrap(), 1);

    let command = angzarr_runtime::authoring::command(
        "clock",
        key.root,
        "c",
        &prost_types::Duration::default(),
    );
    let speculated = router
        .speculate(angzarr_core::proto::SpeculateCommandHandlerRequest {
            command: Some(command),
            point_in_time: None,
        })
        .await
        .unwrap();
    assert_eq!(speculated.events.unwrap().next_sequence, 2);
    assert_eq!(
        store.next_sequence(&key).await.unwrap(),
        1,
        "nothing persisted"
    );

    let endpoint = url.replace("grpc://", "http://");
    let mut queries = EventQueryServiceClient::connect(endpoint).await.unwrap();
    let other = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let asked = [key.clone(), other.clone(), key.clone()].map(|k| Query {
        cover: Some(k.cover("")),
        selection: None,
    });
    let mut answers = queries
        .synchronize(futures::stream::iter(asked))
        .await
        .unwrap()
        .into_inner();
    let mut next = Vec::new();
    while let Some(book) = answers.message().await.unwrap() {
        next.push((AggregateKey::from_book(&book).unwrap(), book.next_sequence));
    }
    assert_eq!(next, [(key.clone(), 1), (other, 0), (key, 1)]);

    let status = call(
        &url,
        "/angzarr.CommandHandlerCoordinatorService/HandleCompensation",
    )
    .await;
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("HandleCompensation"),
        "{status:?}"
    );
}
