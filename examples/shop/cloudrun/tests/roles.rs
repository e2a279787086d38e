//! Each role's HTTP service on the memory backends (no emulator needed):
//! health, the command contract between gateway and aggregate services,
//! push answers, the `all` role, and the binary's shutdown on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use angzarr_cloudrun::{Adapters, App, Role, ServerSettings};
use angzarr_core::config::Config;
use angzarr_core::proto::{CommandRequest, CommandResponse, SyncMode};
use angzarr_example_shop::proto::{AddItem, CheckedOut, Checkout, ConfirmPayment, LineItem};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use http::StatusCode;
use prost::Message;

use support::*;

async fn memory_app(aggregate_url: Option<&str>) -> Arc<App> {
    let mut config = Config::default();
    if let Some(url) = aggregate_url {
        for domain in ["cart", "order", "fulfillment"] {
            config
                .discovery
                .env_urls
                .aggregates
                .insert(domain.into(), url.into());
        }
    }
    let adapters = Adapters::from_config(&config).await.unwrap();
    let handlers = shop::handlers(&OrderSummaries::default()).unwrap();
    Arc::new(App::new(adapters, handlers, &ServerSettings::default()).unwrap())
}

#[tokio::test]
async fn every_role_answers_health_and_unknown_paths() {
    for role in Role::ALL {
        let served = serve(memory_app(None).await, role, listener().await);
        let base = served.url();
        assert_eq!(
            get(&format!("{base}/health/live")).await.0,
            StatusCode::OK,
            "{role}"
        );
        assert_eq!(
            get(&format!("{base}/health/ready")).await.0,
            StatusCode::OK,
            "{role}"
        );
        let (status, body) = get(&format!("{base}/nowhere")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{role}");
        assert!(
            String::from_utf8_lossy(&body).contains("not_found"),
            "{role}"
        );
        let commands = format!("{base}/v1/commands");
        let (status, _) = send(http::Method::POST, &commands, Some(PROTOBUF), None, vec![]).await;
        if matches!(role, Role::ProjectorTrigger | Role::SagaTrigger) {
            assert_eq!(status, StatusCode::NOT_FOUND, "{role} takes no commands");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{role}: an empty request");
        }
    }
}

#[tokio::test]
async fn the_gateway_sends_commands_to_the_aggregate_service_over_http() {
    let aggregate = serve(memory_app(None).await, Role::Aggregate, listener().await);
    let gateway = serve(
        memory_app(Some(&aggregate.url())).await,
        Role::Gateway,
        listener().await,
    );
    let cart = uuid::Uuid::new_v4();
    let add = AddItem {
        sku: "pear".into(),
        quantity: 1,
        unit_price_cents: 99,
    };
    let (status, response, _) = command(&gateway.url(), "cart", cart, "c1", &add).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        event_types(&response.unwrap().events.unwrap()),
        ["shop.ItemAdded"]
    );
    // Stored by the aggregate service.
    assert_eq!(
        event_types(&stored(&aggregate.url(), "cart", cart).await),
        ["shop.ItemAdded"]
    );

    // A rejection keeps its code and status across the hop.
    let empty = uuid::Uuid::new_v4();
    let checkout = Checkout {
        order_id: uuid::Uuid::new_v4().to_string(),
    };
    let (status, _, body) = command(&gateway.url(), "cart", empty, "c1", &checkout).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&body).contains(r#""code":"rejected""#));

    // A domain discovery does not know: 400 at the gateway.
    let (status, _, body) = command(&gateway.url(), "nope", cart, "c1", &add).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A domain the aggregate service does not host: 400 there.
    let (status, _, _) = command(&aggregate.url(), "nope", cart, "c1", &add).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Malformed protobuf.
    let url = format!("{}/v1/commands", gateway.url());
    let (status, _) = send(
        http::Method::POST,
        &url,
        Some(PROTOBUF),
        None,
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_saga_push_is_answered_503_while_the_aggregate_service_is_down() {
    // Nothing listens there once the listener is dropped.
    let closed = listener().await;
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = memory_app(Some(&down)).await;
    let sagas = serve(app.clone(), Role::SagaTrigger, listener().await);
    let order = uuid::Uuid::new_v4();
    let items = vec![LineItem {
        sku: "a".into(),
        quantity: 1,
        unit_price_cents: 5,
    }];
    let book = book_of(
        "cart",
        uuid::Uuid::new_v4(),
        1,
        &CheckedOut {
            order_id: order.to_string(),
            items,
            total_cents: 5,
        },
    );
    let url = format!("{}/push/sagas/checkout", sagas.url());
    let (status, body) = push(&url, &book, "m-1").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Released, not completed: the redelivery tries again (and fails again).
    let (status, _) = push(&url, &book, "m-1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let counts = app.stats().get("checkout");
    assert_eq!((counts.failed, counts.done, counts.duplicates), (2, 0, 0));
    // A book of a domain the saga does not read is acknowledged and skipped.
    let other = book_of("order", order, 0, &CheckedOut::default());
    assert_eq!(push(&url, &other, "m-2").await.0, StatusCode::OK);
    assert_eq!(app.stats().get("checkout").skipped, 1);
}

#[tokio::test]
async fn the_all_role_runs_sagas_and_synchronous_projectors_in_process() {
    let summaries = OrderSummaries::default();
    let adapters = Adapters::from_config(&Config::default()).await.unwrap();
    let app = Arc::new(
        App::new(
            adapters,
            shop::handlers(&summaries).unwrap(),
            &ServerSettings::default(),
        )
        .unwrap(),
    );
    let all = serve(app.clone(), Role::All, listener().await);
    let base = all.url();
    let (cart, order) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let add = AddItem {
        sku: "fig".into(),
        quantity: 3,
        unit_price_cents: 10,
    };
    assert_eq!(
        command(&base, "cart", cart, "c", &add).await.0,
        StatusCode::OK
    );
    let checkout = Checkout {
        order_id: order.to_string(),
    };
    let (_, response, _) = command(&base, "cart", cart, "c", &checkout).await;
    let checked_out = response.unwrap().events.unwrap();
    // The push of the saga, on the same service: PlaceOrder runs in process.
    let (status, _) = push(&format!("{base}/push/sagas/checkout"), &checked_out, "m").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        event_types(&stored(&base, "order", order).await),
        ["shop.OrderPlaced"]
    );

    // SYNC_MODE_SIMPLE: the projector runs before the answer.
    let request = CommandRequest {
        command: Some(angzarr_runtime::authoring::command(
            "order",
            order,
            "c",
            &ConfirmPayment {
                payment_id: "p".into(),
                amount_cents: 30,
            },
        )),
        sync_mode: SyncMode::Simple as i32,
        ..Default::default()
    };
    let (status, body) = send(
        http::Method::POST,
        &format!("{base}/v1/commands"),
        Some(PROTOBUF),
        Some(PROTOBUF),
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = CommandResponse::decode(body).unwrap();
    assert_eq!(response.projections.len(), 1);
    let (status, body) = get(&format!("{base}/v1/read-models/order-summary/{order}")).await;
    assert_eq!(status, StatusCode::OK);
    let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary["status"], "ORDER_STATUS_PAID");
}
