//! The shop, end to end on the Pub/Sub and Bigtable emulators, deployed as
//! on Cloud Run in the event-driven topology: four services (gateway,
//! aggregate, projector trigger, saga trigger) on loopback ports, each with
//! its own clients, and push subscriptions on the emulator delivering to the
//! triggers through a proxy that delivers every push twice. The flow is the
//! host suite's (`angzarr_testkit::suites::host`); what is Cloud Run's own
//! (Bigtable round trips, pushes by hand, a republished book) follows it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../../bins/cloudrun/tests/support/mod.rs"]
mod host_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use angzarr_cloudrun::provision::{PushTargets, provision};
use angzarr_cloudrun::{Adapters, App, Role, ServerSettings};
use angzarr_core::Error;
use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, EventPage};
use angzarr_example_shop::proto::{AddItem, CheckedOut, Checkout, ConfirmPayment};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use angzarr_testkit::emulators::{self, unique_name};
use angzarr_testkit::suites::host::{ShopHost, Summary, shop_flow};
use host_support::Activity;
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
    tooling: Adapters,
    activity: Arc<Activity>,
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
    let activity = Activity::new();
    let targets = PushTargets {
        projectors: activity
            .proxy(format!("http://{}", p.local_addr().unwrap()))
            .await,
        sagas: activity
            .proxy(format!("http://{}", s.local_addr().unwrap()))
            .await,
    };
    let handlers = shop::handlers(&OrderSummaries::default()).unwrap();
    let made = provision(&tooling, &handlers, Some(&targets), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(made.topics.len(), 3, "{made:?}");
    // order-summary on order + fulfillment, checkout on cart, fulfillment on order.
    assert_eq!(made.subscriptions.len(), 4, "{made:?}");

    let projector_app = app(&config, &OrderSummaries::default()).await;
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
        tooling,
        activity,
    }
}

/// Bigtable data requests an app's clients made so far.
fn requests(app: &App) -> u64 {
    app.adapters().bigtable.as_ref().unwrap().request_count()
}

#[async_trait::async_trait]
impl ShopHost for Deployment {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        host_support::send_command(&self.gateway.url(), request).await
    }

    async fn settle(&self) -> Result<(), String> {
        self.activity.settle().await
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        host_support::stored_events(&self.gateway.url(), domain, root).await
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        let url = format!(
            "{}/v1/read-models/order-summary/{order}",
            self.projectors.url()
        );
        Ok(host_support::get_json(&url)
            .await?
            .map(|json| Summary::from_json(&json)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_host_suite_runs_on_cloud_run_and_duplicates_have_no_effect() {
    let d = deploy().await;
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
        per_command, 2,
        "ReadRows (events after the cached state) + CheckAndMutateRow (append)"
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
