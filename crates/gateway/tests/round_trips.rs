//! The calls the gateway makes per request, counted by wrappers around the
//! real router and the real (memory) store — the figures in the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemorySnapshotStore};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage};
use angzarr_core::{AggregateKey, EventStore, LoadRange, Result, StoreLimits};
use angzarr_example_shop::cart;
use angzarr_example_shop::proto::AddItem;
use angzarr_gateway::{Gateway, StoreProbe};
use angzarr_runtime::{AggregateCoordinator, CommandRouter, EventQueries};
use async_trait::async_trait;
use common::*;
use futures::stream::BoxStream;
use http::StatusCode;

#[derive(Debug, Default)]
struct Counts {
    sends: AtomicUsize,
    appends: AtomicUsize,
    loads: AtomicUsize,
    next_sequences: AtomicUsize,
}

impl Counts {
    fn take(&self) -> [usize; 4] {
        [
            self.sends.swap(0, Ordering::SeqCst),
            self.appends.swap(0, Ordering::SeqCst),
            self.loads.swap(0, Ordering::SeqCst),
            self.next_sequences.swap(0, Ordering::SeqCst),
        ]
    }
}

#[derive(Debug)]
struct CountingStore(MemoryEventStore, Arc<Counts>);

#[async_trait]
impl EventStore for CountingStore {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        self.1.appends.fetch_add(1, Ordering::SeqCst);
        self.0.append(key, expected, pages).await
    }
    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        self.1.loads.fetch_add(1, Ordering::SeqCst);
        self.0.load(key, range).await
    }
    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        self.1.next_sequences.fetch_add(1, Ordering::SeqCst);
        self.0.next_sequence(key).await
    }
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        self.0.aggregate_roots(domain)
    }
    fn limits(&self) -> StoreLimits {
        self.0.limits()
    }

    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        self.0.delete(key).await
    }
}

#[derive(Debug)]
struct CountingRouter(Arc<AggregateCoordinator>, Arc<Counts>);

#[async_trait]
impl CommandRouter for CountingRouter {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        self.1.sends.fetch_add(1, Ordering::SeqCst);
        self.0.handle(request).await
    }
}

#[tokio::test]
async fn calls_per_request() {
    let counts = Arc::new(Counts::default());
    let store = Arc::new(CountingStore(MemoryEventStore::new(), counts.clone()));
    // Wired like the shop: snapshots every 100 events, states cached.
    let coordinator = Arc::new(
        AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
            .handler(cart::DOMAIN, Arc::new(cart::logic()))
            .snapshots(Arc::new(MemorySnapshotStore::new()))
            .snapshot_every(100)
            .cache_states(10_000)
            .build(),
    );
    let app = Gateway::builder(
        Arc::new(CountingRouter(coordinator, counts.clone())),
        EventQueries::new(store.clone()),
    )
    .types(shop_types())
    .readiness(Arc::new(StoreProbe::new(store.clone())))
    .build()
    .unwrap();
    let root = uuid::Uuid::new_v4();
    let add = AddItem {
        sku: "a".into(),
        quantity: 1,
        unit_price_cents: 1,
    };

    // [router sends, appends, loads, next_sequence]
    run_protobuf(&app, &request("cart", root, &add)).await;
    let first = counts.take();
    run_protobuf(&app, &request("cart", root, &add)).await;
    let second = counts.take();
    println!("command, new aggregate: {first:?}; command, cached: {second:?}");
    assert_eq!(first[0], 1, "one router call per command");
    assert_eq!(second[0], 1, "one router call per command");
    // The events, and the correlation index's record (`common::request`
    // sets a correlation id): a guessed position, so no read first.
    assert_eq!(first[1], 2, "two appends per command");
    assert_eq!(second[1], 2, "two appends per command");
    assert_eq!(second[3], 0, "no next_sequence read");

    // A refused command never reaches the router.
    let mut bad = request("cart", root, &add);
    bad.command.as_mut().unwrap().cover = None;
    send(&app, post_protobuf(&bad)).await;
    assert_eq!(counts.take(), [0, 0, 0, 0]);

    // A poll: one load and one next_sequence.
    poll_protobuf(&app, &format!("/v1/events/cart/{root}?from=1")).await;
    assert_eq!(counts.take(), [0, 0, 1, 1]);
    // An empty window still reads the next sequence, and loads nothing.
    poll_protobuf(&app, &format!("/v1/events/cart/{root}?from=1&to=1")).await;
    assert_eq!(counts.take(), [0, 0, 0, 1]);

    // Readiness with the store probe: one next_sequence.
    let response = send(&app, get("/health/ready", "*/*")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(counts.take(), [0, 0, 0, 1]);
    // Liveness: nothing.
    send(&app, get("/health/live", "*/*")).await;
    assert_eq!(counts.take(), [0, 0, 0, 0]);
}
