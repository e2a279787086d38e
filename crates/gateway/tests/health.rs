//! `GET /health/live` and `GET /health/ready`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use angzarr_core::memory::MemoryEventStore;
use angzarr_core::{Error, Result};
use angzarr_example_shop::Shop;
use angzarr_gateway::{ReadinessProbe, StoreProbe};
use async_trait::async_trait;
use common::*;
use http::StatusCode;

/// A backend that can be switched off (as a host's own probe would see it).
#[derive(Debug, Default)]
struct Switch(AtomicBool);

#[async_trait]
impl ReadinessProbe for Switch {
    async fn check(&self) -> Result<()> {
        if self.0.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::unavailable("event store", "connection refused"))
        }
    }
}

#[tokio::test]
async fn live_is_always_200() {
    let switch = Arc::new(Switch::default());
    let shop = Shop::in_memory();
    let app = builder(&shop).readiness(switch).build().unwrap();
    let response = send(&app, get("/health/live", "*/*")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["status"], "live");
}

#[tokio::test]
async fn ready_follows_the_probe() {
    let switch = Arc::new(Switch::default());
    let shop = Shop::in_memory();
    let app = builder(&shop).readiness(switch.clone()).build().unwrap();

    let message = expect_error(
        send(&app, get("/health/ready", "*/*")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    )
    .await;
    assert!(message.contains("connection refused"), "{message}");

    switch.0.store(true, Ordering::SeqCst);
    let response = send(&app, get("/health/ready", "*/*")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["status"], "ready");
}

#[tokio::test]
async fn the_store_probe_asks_the_store() {
    let shop = Shop::in_memory();
    let store = Arc::new(MemoryEventStore::new());
    let app = builder(&shop)
        .readiness(Arc::new(StoreProbe::new(store)))
        .build()
        .unwrap();
    let response = send(&app, get("/health/ready", "application/json")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_store_probe_fails_when_the_store_is_down() {
    use angzarr_testkit::emulators::{Kind, start_private};

    let mut redis = start_private(Kind::Redis).await;
    let backend = angzarr_store_redis::Builder::new()
        .with_url(redis.endpoint())
        .with_timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let shop = Shop::in_memory();
    let app = builder(&shop)
        .readiness(Arc::new(StoreProbe::new(Arc::new(backend.event_store()))))
        .build()
        .unwrap();
    let response = send(&app, get("/health/ready", "application/json")).await;
    assert_eq!(response.status(), StatusCode::OK);

    redis.stop();
    let code = {
        let response = send(&app, get("/health/ready", "application/json")).await;
        let status = response.status();
        let body = json(response).await;
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::GATEWAY_TIMEOUT,
            "{status}: {body}"
        );
        body["error"]["code"].as_str().unwrap().to_owned()
    };
    // Retriable either way: unreachable, or no answer in time.
    assert!(code == "unavailable" || code == "timeout", "{code}");
    // Liveness does not depend on the store.
    let response = send(&app, get("/health/live", "application/json")).await;
    assert_eq!(response.status(), StatusCode::OK);
}
