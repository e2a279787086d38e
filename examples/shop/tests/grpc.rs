//! Business logic over gRPC: the cart's Rust logic served by tonic on
//! loopback and called exactly as a service in another language would be;
//! and what happens when such a service is down or slow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::memory::{MemoryBus, MemoryEventStore};
use angzarr_core::proto::command_handler_service_server::CommandHandlerServiceServer;
use angzarr_core::proto::{BusinessResponse, ContextualCommand, ReplayRequest, ReplayResponse};
use angzarr_core::{Error, EventStore, EventStoreExt};
use angzarr_example_shop::proto::{AddItem, CheckedOut, Checkout};
use angzarr_runtime::grpc::client::{GrpcCommandHandler, GrpcTarget};
use angzarr_runtime::grpc::server::CommandHandlerServer;
use angzarr_runtime::{AggregateCoordinator, CommandHandler};
use async_trait::async_trait;
use common::{decode, key, request};

/// Serves `handler` on a free loopback port; returns its URL.
async fn serve(handler: Arc<dyn CommandHandler>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CommandHandlerServiceServer::new(CommandHandlerServer(
                handler,
            )))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    url
}

fn coordinator(store: Arc<MemoryEventStore>, target: GrpcTarget) -> AggregateCoordinator {
    AggregateCoordinator::builder(store, Arc::new(MemoryBus::new()))
        .handler("cart", Arc::new(GrpcCommandHandler::new(target)))
        .build()
}

#[tokio::test]
async fn a_grpc_command_handler_is_served_like_an_in_process_one() {
    let url = serve(Arc::new(angzarr_example_shop::cart::logic())).await;
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = coordinator(store.clone(), GrpcTarget::new("cart", &url).unwrap());
    let cart = uuid::Uuid::new_v4();
    for sku in ["a", "b"] {
        coordinator
            .handle(request(
                "cart",
                cart,
                &AddItem {
                    sku: sku.into(),
                    quantity: 2,
                    unit_price_cents: 10,
                },
            ))
            .await
            .unwrap();
    }
    let order = uuid::Uuid::new_v4();
    let response = coordinator
        .handle(request(
            "cart",
            cart,
            &Checkout {
                order_id: order.to_string(),
            },
        ))
        .await
        .unwrap();
    let checked_out: CheckedOut = decode(&response.events.unwrap().pages[0]);
    assert_eq!(checked_out.total_cents, 40);

    // A rejection over gRPC (FAILED_PRECONDITION) is a rejection here, and appends nothing.
    let err = coordinator
        .handle(request(
            "cart",
            cart,
            &AddItem {
                sku: "c".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { reason } if reason.contains("checked out")),
        "{err}"
    );
    assert_eq!(store.next_sequence(&key("cart", cart)).await.unwrap(), 3);
}

#[tokio::test]
async fn a_service_that_is_down_is_unavailable_and_nothing_is_appended() {
    // A port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = Arc::new(MemoryEventStore::new());
    let target = GrpcTarget::new("cart", &format!("http://127.0.0.1:{port}")).unwrap();
    let coordinator = coordinator(store.clone(), target);
    let cart = uuid::Uuid::new_v4();
    let err = coordinator
        .handle(request(
            "cart",
            cart,
            &AddItem {
                sku: "a".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unavailable);
    assert!(store.load_all(&key("cart", cart)).await.unwrap().is_empty());
}

/// A handler that answers too late.
#[derive(Debug)]
struct Slow;

#[async_trait]
impl CommandHandler for Slow {
    async fn handle(&self, _: ContextualCommand) -> angzarr_core::Result<BusinessResponse> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(BusinessResponse::default())
    }
    async fn replay(&self, _: ReplayRequest) -> angzarr_core::Result<ReplayResponse> {
        Ok(ReplayResponse::default())
    }
}

#[tokio::test]
async fn a_service_that_times_out_is_deadline_exceeded_and_nothing_is_appended() {
    let url = serve(Arc::new(Slow)).await;
    let store = Arc::new(MemoryEventStore::new());
    let target = GrpcTarget::new("cart", &url)
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let coordinator = coordinator(store.clone(), target);
    let cart = uuid::Uuid::new_v4();
    let err = coordinator
        .handle(request(
            "cart",
            cart,
            &AddItem {
                sku: "a".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::DeadlineExceeded
    );
    assert!(store.load_all(&key("cart", cart)).await.unwrap().is_empty());
}
