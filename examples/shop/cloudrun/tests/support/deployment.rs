//! The shop deployed as on Cloud Run in the event-driven topology, on the
//! Pub/Sub and Bigtable emulators: four services (gateway, aggregate,
//! projector trigger, saga trigger) on loopback ports, each with its own
//! clients, and push subscriptions on the emulator delivering to the
//! triggers through a proxy that delivers every push twice. It is the host
//! suite's (`angzarr_testkit::suites::host`) [`ShopHost`], for the e2e test
//! and the `cloudrun_demo` example.

#[path = "../../../../../bins/cloudrun/tests/support/mod.rs"]
pub mod host_support;

use std::sync::Arc;
use std::time::Duration;

use angzarr_cloudrun::provision::{Provisioned, PushTargets, provision};
use angzarr_cloudrun::{Adapters, App, Role, ServerSettings};
use angzarr_core::Error;
use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use angzarr_testkit::emulators::{self, unique_name};
use angzarr_testkit::suites::host::{ShopHost, Summary};
use host_support::Activity;

use super::{Served, listener, serve};

/// The configuration every service of one deployment shares: fresh tables
/// and a fresh topic prefix, aggregates found at `aggregate_url`.
pub async fn config(aggregate_url: &str) -> Config {
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
pub struct Deployment {
    pub gateway: Served,
    pub aggregate: Served,
    pub projectors: Served,
    pub sagas: Served,
    pub saga_app: Arc<App>,
    pub aggregate_app: Arc<App>,
    pub projector_app: Arc<App>,
    /// The clients the tables, topics and subscriptions were made with.
    pub tooling: Adapters,
    /// What was made: topics, and push subscriptions to the proxies.
    pub provisioned: Provisioned,
    pub activity: Arc<Activity>,
}

async fn app(config: &Config, summaries: &OrderSummaries) -> Arc<App> {
    let adapters = Adapters::from_config(config).await.unwrap();
    let handlers = shop::handlers(summaries).unwrap();
    Arc::new(App::new(adapters, handlers, &ServerSettings::default()).unwrap())
}

/// Starts the emulators (once per process), creates the tables, topics and
/// push subscriptions, and serves the four roles.
pub async fn deploy() -> Deployment {
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
    let provisioned = provision(&tooling, &handlers, Some(&targets), Duration::from_secs(10))
        .await
        .unwrap();

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
        provisioned,
        activity,
    }
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
