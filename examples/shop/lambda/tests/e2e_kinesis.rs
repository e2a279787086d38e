//! The shop end to end on AWS with Kinesis Data Streams as the bus,
//! emulated: moto (DynamoDB, Kinesis), the four functions built with the
//! `kinesis` feature under `cargo lambda watch` (a real Lambda Runtime API),
//! the gateway invoked with API Gateway HTTP API (v2) events, and a stand-in
//! for Lambda's Kinesis event source mappings (one per trigger function,
//! checkpoints per stream shard, `ReportBatchItemFailures`) feeding the
//! streams to the triggers as `aws:kinesis` events, every event delivered
//! twice. Faults first (a malformed record on a shard, a projector failing
//! while its table is missing), then the host suite's flow
//! (`angzarr_testkit::suites::host`) on the same deployment.
//!
//! Run: `cargo test -p angzarr-example-shop-lambda --features kinesis --test e2e_kinesis`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use angzarr_core::proto::{CommandRequest, EventBook};
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment, OrderStatus};
use angzarr_runtime::authoring::command;
use angzarr_testkit::suites::host::shop_flow;
use prost::Message;
use serde_json::Value;
use support::kinesis::{Delivered, Deployment, MAX_RETRY_ATTEMPTS};
use support::{MAX_BODY_BYTES, PROTOBUF, error, names, send};

/// The events in a delivered record (`undecodable` if it holds no book).
fn record_names(record: &Delivered) -> Vec<String> {
    match EventBook::decode(record.data.as_slice()) {
        Ok(book) => names(&book.pages),
        Err(_) => vec!["undecodable".to_owned()],
    }
}

fn all_names(records: &[Delivered]) -> Vec<String> {
    records.iter().flat_map(record_names).collect()
}

fn sequences(records: &[Delivered]) -> Vec<String> {
    records.iter().map(|r| r.sequence_number.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_runs_on_lambda_functions_over_kinesis_against_moto() {
    // The read-model table is created late: the projector's first records fail.
    let shop = Deployment::start(false).await.unwrap();
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
    // A malformed record behind the cart's books, on their shard.
    let (malformed_shard, malformed) = shop
        .put_raw("cart", &cart.to_string(), b"%%% not an event book %%%")
        .await
        .unwrap();

    // Round 1. The saga trigger places the order (through the aggregate
    // function) and stops at the malformed record; the projector trigger
    // fails while the read model has no table.
    let saga = shop.poll(&shop.saga, true).await.unwrap();
    let cart_records: Vec<Delivered> = saga
        .records
        .iter()
        .filter(|r| r.stream == shop.stream_name("cart"))
        .cloned()
        .collect();
    assert_eq!(
        all_names(&cart_records),
        [
            "shop.ItemAdded",
            "shop.ItemAdded",
            "shop.CheckedOut",
            "undecodable"
        ],
        "the cart's books and the malformed record, in order, on one shard"
    );
    assert_eq!(
        saga.reported,
        std::slice::from_ref(&malformed),
        "only the malformed record fails"
    );
    assert_eq!(saga.failed.len(), 1);
    assert_eq!(saga.failed[0].shard_id, malformed_shard);
    assert_eq!(
        shop.events("order", order).await.unwrap().len(),
        1,
        "the checkout saga placed the order"
    );
    let projector = shop.poll(&shop.projector, true).await.unwrap();
    assert_eq!(all_names(&projector.failed), ["shop.OrderPlaced"]);
    let placed = projector.failed[0].clone();

    // The payment arrives while the read model is still missing.
    send(
        &shop,
        "order",
        order,
        &ConfirmPayment {
            payment_id: "pay-1".into(),
            amount_cents: 300,
        },
    )
    .await;

    // Round 2. Failed records were not checkpointed: both come again. The
    // saga mapping has its own checkpoints and goes on (OrderPaid ⇒
    // shipment); the projector's batch on the order shard holds OrderPlaced
    // then OrderPaid and stops at OrderPlaced.
    let saga = shop.poll(&shop.saga, true).await.unwrap();
    assert_eq!(sequences(&saga.failed), std::slice::from_ref(&malformed));
    assert_eq!(
        all_names(&saga.records),
        ["undecodable", "shop.OrderPaid"],
        "the malformed record again, then the order's new book"
    );
    assert_eq!(
        names(&shop.events("fulfillment", order).await.unwrap()),
        ["shop.ShipmentCreated"],
        "the fulfillment saga ran although the projector is stuck"
    );
    let projector = shop.poll(&shop.projector, true).await.unwrap();
    let order_batch: Vec<Delivered> = projector
        .records
        .iter()
        .filter(|r| r.stream == shop.stream_name("order"))
        .cloned()
        .collect();
    assert_eq!(
        all_names(&order_batch),
        ["shop.OrderPlaced", "shop.OrderPaid"]
    );
    assert_eq!(order_batch[0], placed, "the failed record is retried");
    assert_eq!(
        all_names(&projector.failed),
        ["shop.OrderPlaced", "shop.ShipmentCreated"],
        "one failure per shard batch: the order's batch stopped at OrderPlaced"
    );
    assert!(
        !projector.reported.contains(&order_batch[1].sequence_number),
        "nothing behind the first failure is reported: {:?}",
        projector.reported
    );
    assert!(projector.discarded.is_empty() && saga.discarded.is_empty());

    // The read model comes back; the retried records now go through. The
    // malformed record keeps failing until the saga mapping gives up on it.
    shop.create_read_model().await.unwrap();
    let drained = shop.drain(true).await.unwrap();
    assert!(
        sequences(&drained.failed).iter().all(|s| *s == malformed),
        "only the malformed record keeps failing: {:?}",
        drained.failed
    );
    assert_eq!(
        sequences(&drained.discarded),
        std::slice::from_ref(&malformed),
        "discarded after {MAX_RETRY_ATTEMPTS} retries, alone"
    );
    let summary = shop
        .summary(order)
        .await
        .unwrap()
        .expect("summary after retry");
    assert_eq!(summary.status, OrderStatus::Fulfilling as i32);
    assert_eq!(summary.total_cents, 300);
    assert_eq!(summary.item_count, 5);

    // The stored events: each once, although every record came twice and
    // some failed first.
    assert_eq!(
        names(&shop.events("order", order).await.unwrap()),
        ["shop.OrderPlaced", "shop.OrderPaid"]
    );
    assert_eq!(
        names(&shop.events("fulfillment", order).await.unwrap()),
        ["shop.ShipmentCreated"]
    );

    // The whole flow on the same deployment, as on every host: every record
    // delivered twice, each event stored once, the read model to `shipped`.
    shop_flow(&shop).await;

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
    assert!(polled.to_string().contains("shop.OrderPaid"), "{polled}");

    // Bad input at the gateway.
    let (status, body) = error(&shop, PROTOBUF, &[0xff, 0xff, 0xff]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_argument");
    let (status, body) = error(&shop, PROTOBUF, &vec![0u8; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, 413, "{body}");
    // A business refusal: checking out the same cart again stores and
    // publishes nothing.
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
    let drained = shop.drain(true).await.unwrap();
    assert!(
        drained.records.is_empty(),
        "a refused command publishes nothing: {:?}",
        drained.records
    );
}
