//! Counts the requests each operation sends (the numbers in the README),
//! and fails if an operation starts to need more.
//!
//! Run: `cargo test -p angzarr-store-bigtable --test round_trips -- --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use angzarr_core::proto::Snapshot;
use angzarr_core::{
    Acquisition, EventStore, EventStoreExt, FiringGuard, LoadRange, RateLimiter, SnapshotStore,
};
use angzarr_store_bigtable::BigtableBackend;
use angzarr_testkit::emulators;
use angzarr_testkit::suites::{event, fresh_key, fresh_name};

/// Runs `op` and returns the requests it sent through `backend`.
async fn requests<T>(
    backend: &BigtableBackend,
    op: impl std::future::Future<Output = T>,
) -> (T, u64) {
    let before = backend.request_count();
    let out = op.await;
    (out, backend.request_count() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_operation() {
    let emulator = emulators::bigtable().await;
    let builder = common::builder(&emulator.endpoint());
    let backend = builder.clone().build().await.unwrap();
    backend.create_tables().await.unwrap();
    let events = backend.event_store();
    let key = fresh_key("trips");
    let mut table = Vec::new();

    let (next, n) = requests(&backend, events.append(&key, 0, vec![event("a")])).await;
    assert_eq!(next.unwrap(), 1);
    table.push(("append, new aggregate", n, 1));
    let (next, n) = requests(&backend, events.append(&key, 1, vec![event("b")])).await;
    assert_eq!(next.unwrap(), 2);
    table.push(("append, end known to this process", n, 1));
    let batch: Vec<_> = (0..20).map(|i| event(&format!("c{i}"))).collect();
    let (next, n) = requests(&backend, events.append(&key, 2, batch)).await;
    assert_eq!(next.unwrap(), 22);
    table.push(("append crossing a hint stride (every 16 sequences)", n, 2));

    // Another process (a cold function instance) with no cache.
    let cold = builder.build().await.unwrap();
    let cold_events = cold.event_store();
    let (next, n) = requests(&cold, cold_events.append(&key, 22, vec![event("d")])).await;
    assert_eq!(next.unwrap(), 23);
    table.push(("append, cold process", n, 2));
    let (result, n) = requests(&cold, cold_events.append(&key, 5, vec![event("x")])).await;
    assert!(result.is_err());
    table.push(("append with a stale expected sequence (conflict)", n, 1));
    let (result, n) = requests(&backend, events.append(&key, 22, vec![event("y")])).await;
    assert!(result.is_err());
    table.push(("append losing a race (conflict at commit)", n, 2));

    let (pages, n) = requests(&backend, events.load_all(&key)).await;
    assert_eq!(pages.unwrap().len(), 23);
    table.push(("load, all", n, 1));
    let (pages, n) = requests(&backend, events.load(&key, LoadRange::between(3, 9))).await;
    assert_eq!(pages.unwrap().len(), 6);
    table.push(("load, range", n, 1));
    let (next, n) = requests(&cold, cold.event_store().next_sequence(&key)).await;
    assert_eq!(next.unwrap(), 23);
    table.push(("next_sequence", n, 2));
    let (book, n) = requests(&backend, events.load_book(&key, LoadRange::from(20))).await;
    assert_eq!(book.unwrap().next_sequence, 23);
    table.push(("load_book to the end", n, 1));

    let snapshots = backend.snapshot_store();
    let snapshot = Snapshot {
        sequence: 22,
        ..Default::default()
    };
    let (r, n) = requests(&backend, snapshots.put(&key, snapshot)).await;
    r.unwrap();
    table.push(("snapshot put", n, 1));
    let (r, n) = requests(&backend, snapshots.get(&key)).await;
    assert_eq!(r.unwrap().unwrap().sequence, 22);
    table.push(("snapshot get", n, 1));
    let (r, n) = requests(&backend, snapshots.delete(&key)).await;
    r.unwrap();
    table.push(("snapshot delete", n, 1));

    let guard = backend.firing_guard();
    let name = fresh_name("trips");
    let (r, n) = requests(&backend, guard.acquire(&name, Duration::from_secs(30))).await;
    let Acquisition::Acquired(lease) = r.unwrap() else {
        panic!("expected to acquire")
    };
    table.push(("guard acquire, first delivery", n, 1));
    let (r, n) = requests(&backend, guard.complete(&lease, Duration::from_secs(60))).await;
    r.unwrap();
    table.push(("guard complete", n, 1));
    let (r, n) = requests(&backend, guard.acquire(&name, Duration::from_secs(30))).await;
    assert_eq!(r.unwrap(), Acquisition::Completed);
    table.push(("guard acquire, duplicate", n, 2));
    let other = fresh_name("trips");
    let Acquisition::Acquired(lease) = guard
        .acquire(&other, Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("expected to acquire")
    };
    let (r, n) = requests(&backend, guard.release(&lease)).await;
    r.unwrap();
    table.push(("guard release", n, 1));

    let (r, n) = requests(
        &backend,
        backend
            .rate_limiter()
            .check(&fresh_name("trips"), 5, Duration::from_secs(60)),
    )
    .await;
    assert!(r.unwrap().allowed);
    table.push(("rate limiter check", n, 1));

    eprintln!("| operation | requests |\n|---|---|");
    for (operation, measured, _) in &table {
        eprintln!("| {operation} | {measured} |");
    }
    for (operation, measured, expected) in table {
        assert_eq!(measured, expected, "{operation}");
    }
}
