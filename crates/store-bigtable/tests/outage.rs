//! The emulator stopped mid-test: every store fails with a retriable error
//! (nothing hangs, nothing panics), and the same backend works again once
//! the emulator is back.
//!
//! Run: `cargo test -p angzarr-store-bigtable --test outage`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use angzarr_core::proto::Snapshot;
use angzarr_core::{EventStore, EventStoreExt, FiringGuard, RateLimiter, SnapshotStore};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::{event, fresh_key, fresh_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_emulator_gives_retriable_errors_and_recovery_follows() {
    let mut emulator = emulators::start_private(Kind::Bigtable).await;
    let backend = common::builder(&emulator.endpoint())
        .with_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    backend.create_tables().await.unwrap();
    let events = backend.event_store();
    let key = fresh_key("outage");
    assert_eq!(events.append(&key, 0, vec![event("a")]).await.unwrap(), 1);

    emulator.stop();
    let err = events.append(&key, 1, vec![event("b")]).await.unwrap_err();
    assert!(err.is_retriable(), "append: {err:?}");
    let err = events.load_all(&key).await.unwrap_err();
    assert!(err.is_retriable(), "load: {err:?}");
    let err = events
        .next_sequence(&fresh_key("outage"))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "next_sequence: {err:?}");
    let err = backend
        .snapshot_store()
        .put(&key, Snapshot::default())
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "snapshot put: {err:?}");
    let err = backend
        .firing_guard()
        .acquire(&fresh_name("outage"), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "guard: {err:?}");
    let err = backend
        .rate_limiter()
        .check(&fresh_name("outage"), 5, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "rate limiter: {err:?}");

    // The restarted emulator is empty: make the tables again, then the same
    // backend (same connection object) works.
    emulator.restart().await;
    backend.create_tables().await.unwrap();
    let key = fresh_key("outage");
    assert_eq!(events.append(&key, 0, vec![event("c")]).await.unwrap(), 1);
    assert_eq!(events.load_all(&key).await.unwrap().len(), 1);
}

/// The emulator frozen mid-test (SIGSTOP, state kept): calls time out with a
/// retriable error. The append that timed out may or may not have landed
/// once the emulator is thawed, and the writer cannot know which; either
/// way the data written before the outage is intact, the batch is stored
/// whole or not at all, and retrying the append never stores it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_emulator_times_out_retriably_and_keeps_its_data() {
    let mut emulator = emulators::start_private(Kind::Bigtable).await;
    let builder = common::builder(&emulator.endpoint()).with_timeout(Duration::from_secs(2));
    let backend = builder.clone().build().await.unwrap();
    backend.create_tables().await.unwrap();
    let events = backend.event_store();
    let key = fresh_key("frozen");
    let before: Vec<_> = (0..3).map(|i| event(&format!("a{i}"))).collect();
    assert_eq!(events.append(&key, 0, before).await.unwrap(), 3);

    emulator.pause();
    wait_until_frozen(&builder).await;
    let batch = || (0..4).map(|i| event(&format!("b{i}"))).collect::<Vec<_>>();
    let err = events.append(&key, 3, batch()).await.unwrap_err();
    assert!(err.is_retriable(), "append: {err:?}");
    let err = events.load_all(&key).await.unwrap_err();
    assert!(err.is_retriable(), "load: {err:?}");
    let err = backend
        .firing_guard()
        .acquire(&fresh_name("frozen"), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "guard: {err:?}");
    emulator.resume();

    // The writer retries the append it does not know the outcome of.
    match events.append(&key, 3, batch()).await {
        Ok(next) => assert_eq!(next, 7),
        Err(angzarr_core::Error::SequenceConflict { actual, .. }) => assert_eq!(actual, 7),
        Err(other) => panic!("retry after the outage: {other:?}"),
    }
    // A fresh process sees the history before the outage and the batch
    // exactly once, whole.
    let fresh = builder.build().await.unwrap().event_store();
    let labels: Vec<String> = fresh
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .map(angzarr_testkit::suites::label)
        .collect();
    assert_eq!(
        labels,
        ["a0", "a1", "a2", "b0", "b1", "b2", "b3"].map(String::from)
    );
    assert_eq!(fresh.next_sequence(&key).await.unwrap(), 7);
}

/// SIGSTOP takes effect asynchronously: a request sent right after
/// `pause()` can still be answered. Probe with short-timeout reads until one
/// goes unanswered, so that the calls under test surely meet a frozen server.
async fn wait_until_frozen(builder: &angzarr_store_bigtable::Builder) {
    let probe = builder
        .clone()
        .with_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap()
        .event_store();
    for _ in 0..50 {
        if probe.next_sequence(&fresh_key("probe")).await.is_err() {
            return;
        }
    }
    panic!("the emulator still answers 50 requests after pause()");
}
