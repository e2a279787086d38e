//! Structured JSON access logs. In a test binary of its own: tracing caches
//! per-callsite interest process-wide, so a thread-local subscriber can miss
//! events while other tests run the same callsites on other threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::AddItem;
use angzarr_gateway::logging::json_subscriber;
use common::*;

/// Log lines written by the subscriber under test.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn json(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

// A current-thread runtime: the thread's default subscriber sees every await.
#[tokio::test(flavor = "current_thread")]
async fn every_request_writes_one_json_access_log() {
    let lines = Lines::default();
    let writer = lines.clone();
    let _guard = tracing::subscriber::set_default(json_subscriber(move || writer.clone()));

    let app = gateway(&Shop::in_memory());
    let cart = uuid::Uuid::new_v4();
    run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "a".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ),
    )
    .await;
    send(&app, post_raw("text/plain", b"hi".to_vec())).await;
    send(
        &app,
        get(&format!("/v1/events/cart/{cart}"), "application/json"),
    )
    .await;

    let access: Vec<serde_json::Value> = lines
        .json()
        .into_iter()
        .filter(|l| l["target"] == "angzarr_gateway::access")
        .collect();
    let seen: Vec<(String, String, u64)> = access
        .iter()
        .map(|l| {
            assert!(l["fields"]["latency_ms"].is_number(), "{l}");
            assert_eq!(l["level"], "INFO");
            (
                l["span"]["method"].as_str().unwrap().to_owned(),
                l["span"]["path"].as_str().unwrap().to_owned(),
                l["fields"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), "/v1/commands".to_owned(), 200),
            ("POST".to_owned(), "/v1/commands".to_owned(), 415),
            ("GET".to_owned(), format!("/v1/events/cart/{cart}"), 200),
        ]
    );
}
