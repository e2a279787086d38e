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
        // A method of a service the server has (fact injection).
        "/angzarr.CommandHandlerCoordinatorService/HandleEvent",
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
