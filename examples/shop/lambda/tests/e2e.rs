//! The shop end to end on AWS, emulated: moto (DynamoDB, SNS → SQS), the
//! four functions under `cargo lambda watch` (a real Lambda Runtime API),
//! the gateway invoked with API Gateway HTTP API (v2) events, and an
//! event-source poller feeding the queues to the triggers as SQS events,
//! every record delivered twice.
//!
//! Run: `cargo test -p angzarr-example-shop-lambda --test e2e`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use angzarr_core::proto::CommandRequest;
use angzarr_example_shop::proto::{AddItem, Checkout, OrderStatus, Ship};
use angzarr_runtime::authoring::command;
use angzarr_testkit::suites::host::shop_flow;
use prost::Message;
use serde_json::Value;
use support::{Deployment, Host, MAX_BODY_BYTES, PROTOBUF, SummaryTable, error, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_runs_on_lambda_functions_against_moto() {
    // The read-model table is created late: the projector's first records fail.
    let shop = Deployment::shop(false).await.unwrap();
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();

    // cart → checkout, through the gateway function and the aggregate function.
    let added = send(
        &shop,
        "cart",
        cart,
        &AddItem {
            sku: "apple".into(),
            quantity: 3,
            unit_price_cents: 50,
        },
    )
    .await;
    assert_eq!(added.events.unwrap().pages.len(), 1);
    send(
        &shop,
        "cart",
        cart,
        &AddItem {
            sku: "pear".into(),
            quantity: 2,
            unit_price_cents: 75,
        },
    )
    .await;
    send(
        &shop,
        "cart",
        cart,
        &Checkout {
            order_id: order.to_string(),
        },
    )
    .await;

    // A malformed message in the saga queue, beside the real ones.
    shop.sqs
        .send_message()
        .queue_url(&shop.saga_queue.url)
        .message_body("%%% not an event book %%%")
        .send()
        .await
        .unwrap();

    // The saga trigger places the order (through the aggregate function);
    // the projector trigger fails while the read model has no table.
    let mut malformed = None;
    let mut projector_failures = Vec::new();
    for _ in 0..20 {
        let saga = shop
            .poll(&shop.saga_queue, "saga-trigger", true)
            .await
            .unwrap();
        for id in &saga.failed {
            assert!(
                saga.bodies[id].starts_with("%%%"),
                "only the malformed record fails: {id}"
            );
            malformed = Some(id.clone());
        }
        let projector = shop
            .poll(&shop.projector_queue, "projector-trigger", true)
            .await
            .unwrap();
        projector_failures.extend(projector.failed.clone());
        if !projector_failures.is_empty() && malformed.is_some() {
            break;
        }
    }
    let malformed = malformed.expect("the malformed record was reported as failed");
    assert!(
        !projector_failures.is_empty(),
        "a failing projector's records are reported"
    );
    assert_eq!(
        shop.events("order", order).await.unwrap().len(),
        1,
        "the checkout saga placed the order"
    );
    // Failed records were not acknowledged: they are still in the queues.
    assert!(shop.queue_depth(&shop.projector_queue).await.unwrap() >= 1);
    assert!(shop.queue_depth(&shop.saga_queue).await.unwrap() >= 1);

    // The read model comes back; the retried records now go through.
    shop.create_read_model().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(support::VISIBILITY_SECS + 1)).await;
    let failed = shop.drain(true).await.unwrap();
    assert!(
        failed.iter().all(|id| *id == malformed),
        "only the malformed record keeps failing: {failed:?}"
    );
    let placed = shop
        .summary(order)
        .await
        .unwrap()
        .expect("summary after retry");
    assert_eq!(placed.status, OrderStatus::Placed as i32);
    assert_eq!(placed.total_cents, 300);

    // The malformed record would go to the dead-letter queue; drop it.
    let purge = shop
        .sqs
        .purge_queue()
        .queue_url(&shop.saga_queue.url)
        .send()
        .await;
    assert!(purge.is_ok(), "{purge:?}");

    // The whole flow on the same deployment, as on every host: every record
    // delivered twice, each event stored once, the read model to `shipped`.
    shop_flow(&Host {
        deployment: &shop,
        read_model: SummaryTable,
    })
    .await;

    // Polling events through the gateway.
    let (status, content_type, body) = shop
        .http(
            "GET",
            &format!("/v1/events/order/{order}"),
            "application/json",
            b"",
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let polled: Value = serde_json::from_slice(&body).unwrap();
    assert!(polled.to_string().contains("shop.OrderPlaced"), "{polled}");

    // Bad input at the gateway.
    let (status, body) = error(&shop, PROTOBUF, &[0xff, 0xff, 0xff]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_argument");
    let (status, body) = error(&shop, "application/json", b"{ not json").await;
    assert_eq!(status, 400, "{body}");
    let unknown = CommandRequest {
        command: Some(command("warehouse", cart, "c", &Ship::default())),
        ..Default::default()
    };
    let (status, body) = error(&shop, PROTOBUF, &unknown.encode_to_vec()).await;
    assert_eq!(status, 400, "{body}");
    let no_cover = CommandRequest {
        command: Some(angzarr_core::proto::CommandBook::default()),
        ..Default::default()
    };
    let (status, body) = error(&shop, PROTOBUF, &no_cover.encode_to_vec()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = error(&shop, PROTOBUF, &vec![0u8; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, 413, "{body}");
    // A business refusal: checking out the same cart again.
    let again = CommandRequest {
        command: Some(command(
            "cart",
            cart,
            "c",
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
        ..Default::default()
    };
    let (status, body) = error(&shop, PROTOBUF, &again.encode_to_vec()).await;
    assert!(
        status == 409 || status == 422 || status == 400,
        "{status} {body}"
    );
    assert_eq!(
        shop.events("cart", cart).await.unwrap().len(),
        3,
        "a refused command stores nothing"
    );
}
