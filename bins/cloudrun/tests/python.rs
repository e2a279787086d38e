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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use angzarr_cloudrun::provision::{PushTargets, provision};
use angzarr_cloudrun::{Adapters, Handlers};
use angzarr_core::config::{Config, DiscoveryType, MessagingType, StorageType};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, EventPage};
use angzarr_core::{Error, error::wire::error_from_http};
use angzarr_host::{Application, BusinessConfig};
use angzarr_testkit::emulators::{self, unique_name};
use angzarr_testkit::shop_python::{self, Service};
use angzarr_testkit::suites::host::{ShopHost, Summary, shop_flow};
use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";
/// No push for this long (and none in flight): delivery has settled.
const QUIET: Duration = Duration::from_millis(2500);

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pushes seen by a [`proxy`].
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last: std::sync::Mutex<Instant>,
}

impl Activity {
    fn touch(&self) {
        *self.last.lock().unwrap() = Instant::now();
    }

    fn quiet(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.last.lock().unwrap().elapsed() > QUIET
    }
}

/// A push endpoint in front of `target` that delivers every push to it
/// twice (at-least-once delivery) and answers with the first answer's
/// status; returns its URL.
async fn proxy(target: String, activity: Arc<Activity>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let forward = move |request: axum::extract::Request| {
        let (target, activity) = (target.clone(), activity.clone());
        async move {
            activity.in_flight.fetch_add(1, Ordering::SeqCst);
            activity.touch();
            let (parts, body) = request.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let uri = format!("{target}{}", parts.uri.path());
            let mut first = None;
            for _ in 0..2 {
                let mut forwarded = http::Request::post(&uri);
                for (name, value) in &parts.headers {
                    if name != http::header::HOST {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let status = match client()
                    .request(forwarded.body(Full::new(body.clone())).unwrap())
                    .await
                {
                    Ok(answer) => answer.status(),
                    Err(_) => http::StatusCode::BAD_GATEWAY,
                };
                first.get_or_insert(status);
            }
            activity.touch();
            activity.in_flight.fetch_sub(1, Ordering::SeqCst);
            http::Response::builder()
                .status(first.unwrap_or(http::StatusCode::BAD_GATEWAY))
                .body(Body::empty())
                .unwrap()
        }
    };
    let app = axum::Router::new().fallback(forward);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

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
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last: std::sync::Mutex::new(Instant::now()),
    });
    let targets = PushTargets {
        projectors: proxy(format!("http://127.0.0.1:{}", ports[2]), activity.clone()).await,
        sagas: proxy(format!("http://127.0.0.1:{}", ports[3]), activity.clone()).await,
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
        let http_request = http::Request::post(format!("{}/v1/commands", self.gateway.url))
            .header(http::header::CONTENT_TYPE, PROTOBUF)
            .header(http::header::ACCEPT, PROTOBUF)
            .body(Full::new(Bytes::from(request.encode_to_vec())))
            .unwrap();
        let answer = client()
            .request(http_request)
            .await
            .map_err(|e| Error::unavailable("gateway", e.to_string()))?;
        let status = answer.status();
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        if status == http::StatusCode::OK {
            CommandResponse::decode(body).map_err(|e| Error::unavailable("gateway", e.to_string()))
        } else {
            Err(error_from_http("gateway", status, &body))
        }
    }

    async fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        // A push starts a moment after the command that published it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while !self.activity.quiet() {
            if Instant::now() > deadline {
                return Err("pushes kept coming for 90 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        let url = format!("{}/v1/events/{domain}/{root}", self.gateway.url);
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, PROTOBUF)
            .body(Full::default())
            .unwrap();
        let answer = client().request(request).await.map_err(|e| e.to_string())?;
        let status = answer.status();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status != http::StatusCode::OK {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(EventBook::decode(body).map_err(|e| e.to_string())?.pages)
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
