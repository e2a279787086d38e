//! The shop, end to end on the Pub/Sub and Bigtable emulators, deployed as
//! on Cloud Run in the event-driven topology: four services (gateway,
//! aggregate, projector trigger, saga trigger) on loopback ports, each with
//! its own clients, and push subscriptions on the emulator delivering to the
//! triggers through a proxy that delivers every push twice
//! (`support::deployment`, shared with the `cloudrun_demo` example). The flow is the
//! host suite's (`angzarr_testkit::suites::host`); what is Cloud Run's own
//! (Bigtable round trips, pushes by hand, a republished book) follows it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use angzarr_cloudrun::App;
use angzarr_core::proto::EventBook;
use angzarr_example_shop::proto::{AddItem, CheckedOut, Checkout, ConfirmPayment};
use angzarr_testkit::suites::host::{ShopHost, shop_flow};
use http::StatusCode;

use support::deployment::deploy;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// Bigtable data requests an app's clients made so far.
fn requests(app: &App) -> u64 {
    app.adapters().bigtable.as_ref().unwrap().request_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_host_suite_runs_on_cloud_run_and_duplicates_have_no_effect() {
    let d = deploy().await;
    assert_eq!(d.provisioned.topics.len(), 3, "{:?}", d.provisioned);
    // order-summary on order + fulfillment, checkout on cart, fulfillment on order.
    assert_eq!(d.provisioned.subscriptions.len(), 4, "{:?}", d.provisioned);
    for served in [&d.gateway, &d.aggregate, &d.projectors, &d.sagas] {
        assert_eq!(
            get(&format!("{}/health/ready", served.url())).await.0,
            StatusCode::OK
        );
    }
    shop_flow(&d).await;
    let stats = d.saga_app.stats();
    assert_eq!(stats.get("checkout").commands_sent, 1, "{stats:?}");
    assert_eq!(stats.get("fulfillment").commands_sent, 1, "{stats:?}");
    assert!(stats.get("checkout").duplicates >= 1, "{stats:?}");
    assert_eq!(d.saga_app.dead_letters().letters().len(), 0);

    // Round trips of one command on a warm aggregate instance, measured on
    // a cart of its own whose events start no saga command.
    let gateway = d.gateway.url();
    let (cart, order) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let add = AddItem {
        sku: "apple".into(),
        quantity: 2,
        unit_price_cents: 150,
    };
    let (status, _, _) = command(&gateway, "cart", cart, "e2e-count", &add).await;
    assert_eq!(status, StatusCode::OK);
    let before = requests(&d.aggregate_app);
    let (status, _, _) = command(&gateway, "cart", cart, "e2e-count", &add).await;
    assert_eq!(status, StatusCode::OK);
    let per_command = requests(&d.aggregate_app) - before;
    println!("bigtable requests of one command (warm aggregate instance): {per_command}");
    assert_eq!(
        per_command, 3,
        "ReadRows (events after the cached state) + CheckAndMutateRow (append) \
         + CheckAndMutateRow (the correlation index's record)"
    );

    // That cart's checkout, then its book pushed again by hand to the saga
    // and published again on the bus: no second order.
    let checkout = Checkout {
        order_id: order.to_string(),
    };
    let (status, response, _) = command(&gateway, "cart", cart, "e2e-dup", &checkout).await;
    assert_eq!(status, StatusCode::OK);
    let checked_out: EventBook = response.unwrap().events.unwrap();
    d.settle().await.unwrap();
    let url = format!("{}/push/sagas/checkout", d.sagas.url());
    for attempt in 0..2 {
        let (status, body) = push(&url, &checked_out, &format!("dup-{attempt}")).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let duplicates = d.saga_app.stats().get("checkout").duplicates;
    let pubsub = d.tooling.pubsub.as_ref().unwrap();
    use angzarr_core::EventBus;
    pubsub.publish(&checked_out).await.unwrap();
    eventually(WAIT, "the republished book pushed again", || async {
        (d.saga_app.stats().get("checkout").duplicates > duplicates).then_some(())
    })
    .await;
    d.settle().await.unwrap();
    let stats = d.saga_app.stats();
    assert_eq!(stats.get("checkout").commands_sent, 2, "{stats:?}");
    assert_eq!(stats.get("checkout").failed, 0, "{stats:?}");
    assert_eq!(
        event_types(&stored(&gateway, "order", order).await),
        ["shop.OrderPlaced"],
        "one order, though its checkout came five times"
    );

    // A duplicate push costs the firing guard's read and conditional write.
    let placed = stored(&gateway, "order", order).await;
    let url = format!("{}/push/projectors/order-summary", d.projectors.url());
    let (status, _) = push(&url, &placed, "dup-a").await;
    assert_eq!(status, StatusCode::OK);
    let before = requests(&d.projector_app);
    let (status, _) = push(&url, &placed, "dup-b").await;
    assert_eq!(status, StatusCode::OK);
    let per_duplicate = requests(&d.projector_app) - before;
    println!("bigtable requests of one duplicate push: {per_duplicate}");
    assert_eq!(
        per_duplicate, 2,
        "the firing guard's read and conditional write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_pushes_are_refused_and_business_failures_are_retried() {
    let d = deploy().await;
    let sagas = d.sagas.url();
    let checkout = format!("{sagas}/push/sagas/checkout");

    // Malformed envelopes: 4xx, nothing handled.
    let (status, body) = send(
        http::Method::POST,
        &checkout,
        Some("application/json"),
        None,
        br#"{"message":{"messageId":"m-bad","data":"%%%"}}"#.to_vec(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _) = send(
        http::Method::POST,
        &checkout,
        None,
        None,
        b"not json".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A CheckedOut whose order id is not a UUID: the saga fails, the push is
    // answered non-2xx (Pub/Sub would retry) every time, nothing is sent.
    let bad = book_of(
        "cart",
        uuid::Uuid::new_v4(),
        1,
        &CheckedOut {
            order_id: "not-a-uuid".into(),
            items: vec![],
            total_cents: 0,
        },
    );
    for attempt in 0..2 {
        let (status, _) = push(&checkout, &bad, &format!("m-fail-{attempt}")).await;
        assert!(status.is_server_error(), "attempt {attempt}: {status}");
    }
    let stats = d.saga_app.stats().get("checkout");
    assert_eq!((stats.failed, stats.done, stats.commands_sent), (2, 0, 0));

    // A command the business logic refuses (payment for an unknown order):
    // 422 with the stable JSON code, through gateway → aggregate service.
    let (status, _, body) = command(
        &d.gateway.url(),
        "order",
        uuid::Uuid::new_v4(),
        "e2e-bad",
        &ConfirmPayment {
            payment_id: "p".into(),
            amount_cents: 1,
        },
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(String::from_utf8_lossy(&body).contains("rejected"));
    assert!(d.projector_app.stats().all().is_empty());
}
