//! `angzarr dev` serves the shop over gRPC; a client drives it as any gRPC
//! client would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use angzarr_core::AggregateKey;
use angzarr_core::proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_core::proto::event_query_service_client::EventQueryServiceClient;
use angzarr_core::proto::{CommandRequest, Query};
use angzarr_example_shop::proto::{AddItem, Checkout};
use angzarr_runtime::authoring::command;
use tokio::io::AsyncBufReadExt;

#[tokio::test]
async fn dev_serves_commands_and_queries_and_runs_the_sagas() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["dev", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first.rsplit("gRPC on ").next().unwrap().trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");

    let mut commands = CommandHandlerCoordinatorServiceClient::connect(url.clone())
        .await
        .unwrap();
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();
    let send = |message: CommandRequest| {
        let mut commands = commands.clone();
        async move { commands.handle_command(message).await }
    };
    let add = AddItem {
        sku: "apple".into(),
        quantity: 2,
        unit_price_cents: 10,
    };
    send(CommandRequest {
        command: Some(command("cart", cart, "dev", &add)),
        ..Default::default()
    })
    .await
    .unwrap();
    let checkout = Checkout {
        order_id: order.to_string(),
    };
    let response = send(CommandRequest {
        command: Some(command("cart", cart, "dev", &checkout)),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(response.events.unwrap().next_sequence, 2);

    // A refusal is FAILED_PRECONDITION over the wire.
    let status = commands
        .handle_command(CommandRequest {
            command: Some(command("cart", cart, "dev", &add)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    // The checkout saga places the order in the background.
    let mut queries = EventQueryServiceClient::connect(url).await.unwrap();
    let order_key = AggregateKey::new("order", order).unwrap();
    let mut placed = 0;
    for _ in 0..100 {
        let book = queries
            .get_event_book(Query {
                cover: Some(order_key.cover("")),
                selection: None,
            })
            .await
            .unwrap()
            .into_inner();
        placed = book.pages.len();
        if placed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(placed, 1, "the saga placed the order");
}
