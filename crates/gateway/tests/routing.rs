//! Commands routed through service discovery to an aggregate served over
//! gRPC on loopback — the gateway and the aggregate as separate functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use angzarr_core::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{AddItem, Checkout};
use angzarr_gateway::Gateway;
use angzarr_runtime::DiscoveryRouter;
use angzarr_runtime::grpc::server::CoordinatorServer;
use common::*;
use http::StatusCode;
use serde_json::json;

/// Serves the shop's coordinator over gRPC on a free loopback port.
async fn serve(shop: &Shop) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CommandHandlerCoordinatorServiceServer::new(
                CoordinatorServer::new(shop.coordinator.clone()),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    url
}

/// A port nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn commands_reach_a_remote_aggregate_through_discovery() {
    let shop = Shop::in_memory();
    let url = serve(&shop).await;
    let discovery = angzarr_discovery_env::Builder::new()
        .with_aggregate("cart", &url)
        .with_aggregate("order", &closed_port().await)
        .build()
        .unwrap();
    let router = Arc::new(DiscoveryRouter::new(None, Arc::new(discovery)));
    let app = Gateway::builder(router, shop.queries.clone())
        .types(shop_types())
        .build()
        .unwrap();
    let cart = uuid::Uuid::new_v4();

    // Protobuf and JSON both arrive at the remote cart.
    let answer = run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "apple".into(),
                quantity: 2,
                unit_price_cents: 40,
            },
        ),
    )
    .await;
    assert_eq!(answer.events.unwrap().next_sequence, 1);
    let answer = run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.Checkout", "orderId": uuid::Uuid::new_v4().to_string()}),
        ),
    )
    .await;
    assert_eq!(
        answer["events"]["pages"][0]["event"]["@type"],
        "type.googleapis.com/shop.CheckedOut"
    );
    assert_eq!(answer["events"]["pages"][0]["event"]["totalCents"], "80");
    let (book, _) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert_eq!(types(&book), ["shop.ItemAdded", "shop.CheckedOut"]);

    // A rejection travels back over gRPC and keeps its reason.
    let response = send(
        &app,
        post_protobuf(&request(
            "cart",
            cart,
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    assert!(message.contains("already checked out"), "{message}");

    // A domain discovery does not know is the client's mistake: 400.
    let response = send(
        &app,
        post_protobuf(&request(
            "warehouse",
            cart,
            &AddItem {
                sku: "a".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;
    assert!(message.contains("unknown domain `warehouse`"), "{message}");

    // An aggregate that does not answer is retriable: 503.
    let response = send(
        &app,
        post_protobuf(&request(
            "order",
            uuid::Uuid::new_v4(),
            &Checkout {
                order_id: String::new(),
            },
        )),
    )
    .await;
    let status = response.status();
    let body = json(response).await;
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::GATEWAY_TIMEOUT,
        "{status}: {body}"
    );
}
