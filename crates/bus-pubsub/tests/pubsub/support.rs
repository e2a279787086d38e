//! Shared helpers: buses on the emulator, topics and subscriptions with
//! unique names, a counting HTTP/2 proxy, and signed push tokens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_bus_pubsub::{PubSubBuilder, PubSubBus};
use angzarr_core::AggregateKey;
use angzarr_core::proto::EventBook;
use angzarr_testkit::emulators;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// The project every test uses on the emulator.
pub const PROJECT: &str = "angzarr-test";
/// The emulator's minimum ack deadline.
pub const ACK_DEADLINE: Duration = Duration::from_secs(10);

/// A bus on `endpoint` (`host:port`).
pub async fn bus_on(endpoint: &str) -> PubSubBus {
    PubSubBuilder::new()
        .with_project(PROJECT)
        .with_endpoint(endpoint)
        .build()
        .await
        .unwrap()
}

/// A bus on the shared emulator.
pub async fn shared_bus() -> PubSubBus {
    bus_on(&emulators::pubsub().await.endpoint()).await
}

/// A fresh domain, its topic, and an ordered pull subscription on it; returns
/// `(domain, subscription id)`.
pub async fn domain_with_pull_subscription(bus: &PubSubBus, prefix: &str) -> (String, String) {
    let domain = emulators::unique_name(prefix);
    let topic = bus.topic_id(&domain).unwrap();
    let subscription = emulators::unique_name(&format!("{prefix}-sub"));
    let admin = bus.admin();
    admin.ensure_topic(&topic).await.unwrap();
    admin
        .create_pull_subscription(&subscription, &topic, ACK_DEADLINE, None)
        .await
        .unwrap();
    (domain, subscription)
}

/// A one-event book of a fresh aggregate in `domain`.
pub fn fresh_book(domain: &str, sequence: u32) -> EventBook {
    let key = AggregateKey::new(domain, uuid::Uuid::new_v4()).unwrap();
    angzarr_testkit::suites::bus::book(&key, sequence, "corr-test")
}

/// An HTTP/2 (h2c) proxy that forwards to `target` and counts requests by
/// gRPC method path, so tests can measure round trips per operation.
#[derive(Clone, Debug)]
pub struct CountingProxy {
    pub addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl CountingProxy {
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let client: Client<_, Incoming> = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let client = client.clone();
                let counts = shared.clone();
                let target = target.clone();
                let service =
                    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                        let path = request.uri().path().to_owned();
                        *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
                        *request.uri_mut() = format!("http://{target}{path}").parse().unwrap();
                        let client = client.clone();
                        async move { client.request(request).await }
                    });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, counts }
    }

    /// `host:port` to point a client at.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Requests of one gRPC method, e.g. `Publish`.
    pub fn count(&self, method: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.rsplit('/').next() == Some(method))
            .map(|(_, n)| *n)
            .sum()
    }

    /// All requests so far.
    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }

    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }
}
