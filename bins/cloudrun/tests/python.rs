//! A team's application with no Rust at all, on Cloud Run: the shop written
//! in Python (`examples/shop-python`), its components separate processes
//! over TCP, hosted by four stock `angzarr-cloudrun` services (gateway,
//! aggregate, projector trigger, saga trigger) from a `business`
//! configuration, on the Bigtable and Pub/Sub emulators with push
//! subscriptions — each push delivered twice by a proxy in front of the
//! triggers — driven by the host suite (`angzarr_testkit::suites::host`).
//!
//! Needs the Google Cloud SDK emulators and python3 with grpcio,
//! grpcio-tools and grpcio-health-checking. Run with
//! `cargo test -p angzarr-cloudrun --test python`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use angzarr_cloudrun::provision::{PushTargets, provision};
use angzarr_cloudrun::{Adapters, Handlers};
use angzarr_core::Error;
use angzarr_core::config::{Config, DiscoveryType, MessagingType, StorageType};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage};
use angzarr_host::{Application, BusinessConfig};
use angzarr_testkit::emulators::{self, unique_name};
use angzarr_testkit::shop_python::{self, Service};
use angzarr_testkit::suites::host::{ShopHost, Summary, shop_flow};
use http_body_util::Full;
use support::{Activity, client, free_port};

/// One stock service; killed when dropped.
struct Stock {
    url: String,
    _child: tokio::process::Child,
}

async fn stock(role: &str, port: u16, config: &Path, logs: &Path) -> Stock {
    let log = std::fs::File::create(logs.join(format!("{role}.log"))).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_angzarr-cloudrun"))
        .args(["--role", role])
        .env_remove("ANGZARR_ROLE")
        .env("ANGZARR_CONFIG", config)
        .env("ANGZARR_CLOUDRUN__HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let live = format!("{url}/health/live");
    for _ in 0..300 {
        let request = http::Request::get(&live).body(Full::default()).unwrap();
        if client()
            .request(request)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Stock { url, _child: child };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the {role} service did not answer; see {}", logs.display());
}

/// The Python shop on the stock services.
struct Deployment {
    gateway: Stock,
    summaries: PathBuf,
    activity: Arc<Activity>,
    _services: Vec<Stock>,
    _python: Vec<Service>,
}

async fn deploy() -> Deployment {
    let prefix = unique_name("pyshop");
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&prefix);
    let summaries = scratch.join("summaries");
    std::fs::create_dir_all(&summaries).unwrap();

    // The business logic: six Python processes over TCP.
    let summary_dir = [("SHOP_SUMMARY_DIR", summaries.display().to_string())];
    let mut python = Vec::new();
    for component in [
        "cart",
        "order",
        "fulfillment",
        "checkout",
        "fulfillment-saga",
        "order-summary",
    ] {
        python.push(shop_python::serve(component, &summary_dir).await);
    }
    let url = |i: usize| python[i].url.clone();
    let business = serde_json::json!({
        "aggregates": {
            "cart": { "grpc": url(0) },
            "order": { "grpc": url(1) },
            "fulfillment": { "grpc": url(2) },
        },
        "sagas": {
            "checkout": { "grpc": url(3), "domains": ["cart"] },
            "fulfillment": { "grpc": url(4), "domains": ["order"] },
        },
        "projectors": {
            "order-summary": { "grpc": url(5), "domains": ["order", "fulfillment"] },
        },
    });

    // The configuration every service shares (JSON is YAML).
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let aggregate_url = format!("http://127.0.0.1:{}", ports[1]);
    let mut config = Config::default();
    config.storage.kind = StorageType::GcpBigtable;
    let bigtable = &mut config.storage.gcp_bigtable;
    bigtable.project = "angzarr-test".into();
    bigtable.instance = "angzarr-test".into();
    bigtable.events_table = format!("{prefix}-events");
    bigtable.snapshots_table = format!("{prefix}-snapshots");
    bigtable.guard_table = format!("{prefix}-guard");
    bigtable.rate_limit_table = format!("{prefix}-rate");
    bigtable.endpoint = Some(emulators::bigtable().await.endpoint());
    config.messaging.kind = MessagingType::GcpPubsub;
    let pubsub = &mut config.messaging.gcp_pubsub;
    pubsub.project = "angzarr-test".into();
    pubsub.topic_prefix = format!("{prefix}-");
    pubsub.endpoint = Some(emulators::pubsub().await.endpoint());
    config.discovery.kind = DiscoveryType::EnvUrls;
    for domain in ["cart", "order", "fulfillment"] {
        config
            .discovery
            .env_urls
            .aggregates
            .insert(domain.into(), aggregate_url.clone());
    }
    let mut tree = serde_json::to_value(&config).unwrap();
    tree["business"] = business.clone();
    let config_file = scratch.join("angzarr.yaml");
    std::fs::write(&config_file, serde_json::to_vec_pretty(&tree).unwrap()).unwrap();

    // The tooling makes tables, topics and push subscriptions (to the proxies).
    let activity = Activity::new();
    let targets = PushTargets {
        projectors: activity
            .proxy(format!("http://127.0.0.1:{}", ports[2]))
            .await,
        sagas: activity
            .proxy(format!("http://127.0.0.1:{}", ports[3]))
            .await,
    };
    let figment = figment::Figment::new().merge(figment::providers::Serialized::globals(&tree));
    let app = BusinessConfig::from_figment(&figment)
        .unwrap()
        .apply(Application::new())
        .unwrap();
    let tooling = Adapters::from_config(&config).await.unwrap();
    let made = provision(
        &tooling,
        &Handlers::from(app),
        Some(&targets),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(made.subscriptions.len(), 4, "{made:?}");

    let mut services = Vec::new();
    for (role, port) in ["aggregate", "projector-trigger", "saga-trigger"]
        .iter()
        .zip(&ports[1..])
    {
        services.push(stock(role, *port, &config_file, &scratch).await);
    }
    let gateway = stock("gateway", ports[0], &config_file, &scratch).await;
    Deployment {
        gateway,
        summaries,
        activity,
        _services: services,
        _python: python,
    }
}

#[async_trait::async_trait]
impl ShopHost for Deployment {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        support::send_command(&self.gateway.url, request).await
    }

    async fn settle(&self) -> Result<(), String> {
        self.activity.settle().await
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        support::stored_events(&self.gateway.url, domain, root).await
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        Summary::from_file_in(&self.summaries, order)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_shop_runs_on_the_stock_cloud_run_services() {
    let deployment = deploy().await;
    shop_flow(&deployment).await;
}
