//! The shop, end to end on the Pub/Sub and Bigtable emulators, deployed as
//! on Cloud Run in the event-driven topology: four services (gateway,
//! aggregate, projector trigger, saga trigger) on loopback ports, each with
//! its own clients, and push subscriptions on the emulator delivering to the
//! triggers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_cloudrun::provision::{PushTargets, provision};
use angzarr_cloudrun::{Adapters, App, Role, ServerSettings};
use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::proto::EventBook;
use angzarr_example_shop::proto::{
    AddItem, CheckedOut, Checkout, ConfirmPayment, OrderSummary, Ship,
};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use angzarr_testkit::emulators::{self, unique_name};
use http::StatusCode;

use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// The configuration every service of one test shares: fresh tables and a
/// fresh topic prefix, aggregates found at `aggregate_url`.
async fn config(aggregate_url: &str) -> Config {
    let mut config = Config::default();
    config.storage.kind = StorageType::GcpBigtable;
    let bigtable = &mut config.storage.gcp_bigtable;
    bigtable.project = "angzarr-test".into();
    bigtable.instance = "angzarr-test".into();
    bigtable.events_table = unique_name("events");
    bigtable.snapshots_table = unique_name("snapshots");
    bigtable.guard_table = unique_name("guard");
    bigtable.rate_limit_table = unique_name("rate");
    bigtable.endpoint = Some(emulators::bigtable().await.endpoint());
    config.messaging.kind = MessagingType::GcpPubsub;
    let pubsub = &mut config.messaging.gcp_pubsub;
    pubsub.project = "angzarr-test".into();
    pubsub.topic_prefix = format!("{}-", unique_name("shop"));
    pubsub.endpoint = Some(emulators::pubsub().await.endpoint());
    for domain in ["cart", "order", "fulfillment"] {
        config
            .discovery
            .env_urls
            .aggregates
            .insert(domain.into(), aggregate_url.to_owned());
    }
    config
}

/// One deployment: four services and the projector's read model.
struct Deployment {
    gateway: Served,
    aggregate: Served,
    projectors: Served,
    sagas: Served,
    saga_app: Arc<App>,
    aggregate_app: Arc<App>,
    projector_app: Arc<App>,
    summaries: OrderSummaries,
    tooling: Adapters,
}

async fn app(config: &Config, summaries: &OrderSummaries) -> Arc<App> {
    let adapters = Adapters::from_config(config).await.unwrap();
    let handlers = shop::handlers(summaries).unwrap();
    Arc::new(App::new(adapters, handlers, &ServerSettings::default()).unwrap())
}

async fn deploy() -> Deployment {
    let (g, a, p, s) = (
        listener().await,
        listener().await,
        listener().await,
        listener().await,
    );
    let aggregate_url = format!("http://{}", a.local_addr().unwrap());
    let config = config(&aggregate_url).await;
    // The tooling creates tables, topics and push subscriptions first.
    let tooling = Adapters::from_config(&config).await.unwrap();
    let targets = PushTargets {
        projectors: format!("http://{}", p.local_addr().unwrap()),
        sagas: format!("http://{}", s.local_addr().unwrap()),
    };
    let handlers = shop::handlers(&OrderSummaries::default()).unwrap();
    let made = provision(&tooling, &handlers, Some(&targets), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(made.topics.len(), 3, "{made:?}");
    // order-summary on order + fulfillment, checkout on cart, fulfillment on order.
    assert_eq!(made.subscriptions.len(), 4, "{made:?}");

    let summaries = OrderSummaries::default();
    let projector_app = app(&config, &summaries).await;
    let saga_app = app(&config, &OrderSummaries::default()).await;
    let aggregate_app = app(&config, &OrderSummaries::default()).await;
    Deployment {
        gateway: serve(
            app(&config, &OrderSummaries::default()).await,
            Role::Gateway,
            g,
        ),
        aggregate: serve(aggregate_app.clone(), Role::Aggregate, a),
        projectors: serve(projector_app.clone(), Role::ProjectorTrigger, p),
        sagas: serve(saga_app.clone(), Role::SagaTrigger, s),
        saga_app,
        aggregate_app,
        projector_app,
        summaries,
        tooling,
    }
}

/// Bigtable data requests an app's clients made so far.
fn requests(app: &App) -> u64 {
    app.adapters().bigtable.as_ref().unwrap().request_count()
}

impl Deployment {
    async fn summary(&self, order: uuid::Uuid) -> Option<serde_json::Value> {
        let (status, body) = get(&format!(
            "{}/v1/read-models/order-summary/{order}",
            self.projectors.url()
        ))
        .await;
        (status == StatusCode::OK).then(|| serde_json::from_slice(&body).unwrap())
    }

    async fn summary_with_status(&self, order: uuid::Uuid, status: &str) -> serde_json::Value {
        eventually(WAIT, &format!("order summary {status}"), || async {
            self.summary(order).await.filter(|s| s["status"] == status)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_shop_flow_completes_through_push_deliveries() {
    let d = deploy().await;
    let gateway = d.gateway.url();
    let (cart, order) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let corr = "e2e-flow";

    // Health of every service.
    for served in [&d.gateway, &d.aggregate, &d.projectors, &d.sagas] {
        assert_eq!(
            get(&format!("{}/health/ready", served.url())).await.0,
            StatusCode::OK
        );
    }

    // cart: add an item and check out, through the gateway → aggregate service.
    let add = AddItem {
        sku: "apple".into(),
        quantity: 2,
        unit_price_cents: 150,
    };
    let (status, _, body) = command(&gateway, "cart", cart, corr, &add).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let checkout = Checkout {
        order_id: order.to_string(),
    };
    let (status, response, _) = command(&gateway, "cart", cart, corr, &checkout).await;
    assert_eq!(status, StatusCode::OK);
    let checked_out: EventBook = response.unwrap().events.unwrap();
    assert_eq!(event_types(&checked_out), ["shop.CheckedOut"]);
    assert_eq!(checked_out.cover.as_ref().unwrap().correlation_id, corr);

    // saga checkout (push) → PlaceOrder on the aggregate service → order
    // events pushed to the projector.
    let placed = d.summary_with_status(order, "ORDER_STATUS_PLACED").await;

    // Round trips of one command on a warm aggregate instance, measured on
    // a cart of its own whose events start no saga command, so nothing else
    // reaches the aggregate service meanwhile.
    let other = uuid::Uuid::new_v4();
    let (status, _, _) = command(&gateway, "cart", other, "e2e-count", &add).await;
    assert_eq!(status, StatusCode::OK);
    let before = requests(&d.aggregate_app);
    let (status, _, _) = command(&gateway, "cart", other, "e2e-count", &add).await;
    assert_eq!(status, StatusCode::OK);
    let per_command = requests(&d.aggregate_app) - before;
    println!("bigtable requests of one command (warm aggregate instance): {per_command}");
    assert_eq!(
        per_command, 2,
        "ReadRows (events after the cached state) + CheckAndMutateRow (append)"
    );
    assert_eq!(placed["total_cents"], 300);
    assert_eq!(placed["item_count"], 2);

    // Payment → saga fulfillment → CreateShipment → projector.
    let pay = ConfirmPayment {
        payment_id: "pay-1".into(),
        amount_cents: 300,
    };
    let (status, response, _) = command(&gateway, "order", order, corr, &pay).await;
    assert_eq!(status, StatusCode::OK);
    let paid = response.unwrap().events.unwrap();
    d.summary_with_status(order, "ORDER_STATUS_FULFILLING")
        .await;

    // Ship (the shipment shares the order's root) → projector.
    let ship = Ship {
        carrier: "ups".into(),
        tracking_number: "1Z999".into(),
    };
    let (status, _, body) = command(&gateway, "fulfillment", order, corr, &ship).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let shipped = d.summary_with_status(order, "ORDER_STATUS_SHIPPED").await;
    assert_eq!(shipped["tracking_number"], "1Z999");

    // The stored events, read back through the gateway from Bigtable.
    let expected: BTreeMap<(&str, uuid::Uuid), Vec<&str>> = [
        (("cart", cart), vec!["shop.ItemAdded", "shop.CheckedOut"]),
        (("order", order), vec!["shop.OrderPlaced", "shop.OrderPaid"]),
        (
            ("fulfillment", order),
            vec!["shop.ShipmentCreated", "shop.Shipped"],
        ),
    ]
    .into();
    for ((domain, root), types) in &expected {
        let book = stored(&gateway, domain, *root).await;
        assert_eq!(event_types(&book), *types, "{domain}");
    }
    let stats = d.saga_app.stats();
    assert_eq!(stats.get("checkout").commands_sent, 1);
    assert_eq!(stats.get("fulfillment").commands_sent, 1);
    assert_eq!(d.saga_app.dead_letters().letters().len(), 0);

    // Every delivery again: pushed by hand to each endpoint, and published
    // again so that the emulator pushes it a second time. No second effect.
    let sagas = d.sagas.url();
    let projectors = d.projectors.url();
    for (url, book) in [
        (format!("{sagas}/push/sagas/checkout"), &checked_out),
        (format!("{sagas}/push/sagas/fulfillment"), &paid),
        (format!("{projectors}/push/projectors/order-summary"), &paid),
    ] {
        for attempt in 0..2 {
            let (status, body) = push(&url, book, &format!("dup-{attempt}")).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{url}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    let before = requests(&d.projector_app);
    let (status, _) = push(
        &format!("{projectors}/push/projectors/order-summary"),
        &paid,
        "dup-x",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let per_duplicate = requests(&d.projector_app) - before;
    println!("bigtable requests of one duplicate push: {per_duplicate}");
    assert_eq!(
        per_duplicate, 2,
        "the firing guard's read and conditional write"
    );
    let checkout_dups = d.saga_app.stats().get("checkout").duplicates;
    assert!(checkout_dups >= 2, "{checkout_dups}");
    let pubsub = d.tooling.pubsub.as_ref().unwrap();
    use angzarr_core::EventBus;
    pubsub.publish(&checked_out).await.unwrap();
    pubsub.publish(&paid).await.unwrap();
    eventually(WAIT, "the republished books pushed again", || async {
        let stats = d.saga_app.stats();
        (stats.get("checkout").duplicates > checkout_dups
            && stats.get("fulfillment").duplicates >= 3)
            .then_some(())
    })
    .await;
    let stats = d.saga_app.stats();
    assert_eq!(stats.get("checkout").commands_sent, 1, "{stats:?}");
    assert_eq!(stats.get("fulfillment").commands_sent, 1, "{stats:?}");
    assert_eq!(
        stats.get("checkout").failed + stats.get("fulfillment").failed,
        0
    );
    for ((domain, root), types) in &expected {
        let book = stored(&gateway, domain, *root).await;
        assert_eq!(
            event_types(&book).len(),
            types.len(),
            "{domain}: no extra events"
        );
    }
    let summary: OrderSummary = d.summaries.get(&order.to_string()).unwrap();
    assert_eq!(
        summary.status(),
        angzarr_example_shop::proto::OrderStatus::Shipped
    );
    assert!(d.projector_app.stats().get("order-summary").duplicates >= 2);
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
