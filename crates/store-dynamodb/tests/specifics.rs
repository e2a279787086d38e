//! DynamoDB behaviours beyond the conformance suites, on moto: atomicity of a
//! conflicting transaction, the 100-event limit, the gap check, offloading to
//! S3 with hash checks, pagination over 1 MB, the rate limiter's refusal and
//! shards, an outage (frozen, then stopped), and the measured requests per
//! operation.
//!
//! Run: `cargo test -p angzarr-store-dynamodb --test specifics`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::payload::content_hash;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{PayloadStorageType, Snapshot};
use angzarr_core::{
    Acquisition, Error, EventStore, EventStoreExt, FiringGuard, LoadRange, PayloadStore,
    RateLimiter, SnapshotStore,
};
use angzarr_store_dynamodb::{
    Builder, MAX_EVENTS_PER_APPEND, MAX_INLINE_EVENT_BYTES, create_tables,
};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::{event, fresh_key, label, sized_event};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use prost::Message;

/// The raw event items of an aggregate, bypassing the store.
async fn raw_items(
    dynamodb: &angzarr_store_dynamodb::DynamoDb,
    key: &angzarr_core::AggregateKey,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let out = dynamodb
        .client()
        .query()
        .table_name(&dynamodb.tables().events)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(key.storage_key()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().to_vec()
}

/// A batch whose first item collides with a stored event, while the rest are
/// new, is cancelled whole: the new items are not written either, and the
/// conflict tells the actual next sequence.
#[tokio::test]
async fn a_transaction_with_one_conflicting_item_writes_nothing() {
    let dynamodb = common::backend().await;
    let store = dynamodb.event_store();
    let key = fresh_key("txn");
    store
        .append(&key, 0, vec![event("a"), event("b"), event("c")])
        .await
        .unwrap();
    // Expected 2: event 1 exists (the gap check passes), event 2 exists (its
    // put fails), events 3 and 4 are new.
    let err = store
        .append(&key, 2, vec![event("x2"), event("x3"), event("x4")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SequenceConflict {
                expected: 2,
                actual: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        raw_items(&dynamodb, &key).await.len(),
        3,
        "nothing of the batch was written"
    );
    let labels: Vec<_> = store
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .map(label)
        .collect();
    assert_eq!(labels, ["a", "b", "c"]);
}

/// 101 events are refused with a typed error before any request; 100 fill a
/// transaction and succeed, also in a process that knows nothing of the
/// aggregate (one `Query` then proves there is no gap, as 100 puts leave no
/// room for the check in the transaction); a stale full batch is refused by
/// that read, before anything is written.
#[tokio::test]
async fn over_100_events_are_refused_whole() {
    let dynamodb = common::backend().await;
    let store = dynamodb.event_store();
    let key = fresh_key("many");
    store.append(&key, 0, vec![event("first")]).await.unwrap();
    let batch = |count: usize| -> Vec<_> { (0..count).map(|i| event(&format!("e{i}"))).collect() };

    let (cold, counter) = common::counted_on(&dynamodb, None).await;
    let cold = cold.event_store();
    match cold.append(&key, 1, batch(101)).await {
        Err(Error::LimitExceeded { limit, actual, .. }) => {
            assert_eq!(limit, MAX_EVENTS_PER_APPEND as u64);
            assert_eq!((limit, actual), (100, 101));
        }
        other => panic!("expected LimitExceeded for 101 events, got {other:?}"),
    }
    assert!(counter.take().is_empty(), "refused before any request");
    assert_eq!(raw_items(&dynamodb, &key).await.len(), 1, "nothing partial");

    assert_eq!(cold.append(&key, 1, batch(100)).await.unwrap(), 101);
    assert_eq!(counter.take(), ["Query", "TransactWriteItems"]);
    assert_eq!(store.load_all(&key).await.unwrap().len(), 101);

    let (other, counter) = common::counted_on(&dynamodb, None).await;
    let err = other
        .event_store()
        .append(&key, 1, batch(100))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SequenceConflict {
                expected: 1,
                actual: 101,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(counter.take(), ["Query"], "no write was tried");
    assert_eq!(raw_items(&dynamodb, &key).await.len(), 101);
}

/// An append beyond the aggregate's next sequence (it would leave a gap) is
/// a conflict carrying the actual next sequence, and writes nothing, whether
/// or not this process has seen the aggregate before.
#[tokio::test]
async fn an_append_that_would_leave_a_gap_is_a_conflict() {
    let dynamodb = common::backend().await;
    let warm = dynamodb.event_store();
    let key = fresh_key("gap");
    warm.append(&key, 0, vec![event("a"), event("b")])
        .await
        .unwrap();
    for (expected, count) in [(3, 1), (5, 3)] {
        let pages = || {
            (0..count)
                .map(|i| event(&format!("g{i}")))
                .collect::<Vec<_>>()
        };
        let (cold, counter) = common::counted_on(&dynamodb, None).await;
        for (who, store) in [("warm", warm.clone()), ("cold", cold.event_store())] {
            let err = store.append(&key, expected, pages()).await.unwrap_err();
            assert!(
                matches!(err, Error::SequenceConflict { actual: 2, .. }),
                "{who} at {expected}: {err:?}"
            );
        }
        assert_eq!(counter.take(), ["TransactWriteItems", "Query"]);
    }
    assert_eq!(raw_items(&dynamodb, &key).await.len(), 2);
}

/// A 1 MB event goes to S3: the item holds a reference whose hash is the
/// SHA-256 of the event, the load brings the event back, and a tampered
/// object is refused as `Corrupt`.
#[tokio::test]
async fn a_1mb_event_round_trips_through_s3_and_tampering_is_refused() {
    let (dynamodb, payloads) = common::offloading_backend().await;
    let store = dynamodb.event_store();
    let key = fresh_key("offload");
    let big = sized_event("big", 1024 * 1024);
    store
        .append(&key, 0, vec![event("small"), big.clone()])
        .await
        .unwrap();

    let items = raw_items(&dynamodb, &key).await;
    assert_eq!(items.len(), 2);
    assert!(
        !items[0].contains_key("offloaded"),
        "small events stay inline"
    );
    assert_eq!(items[1].get("offloaded"), Some(&AttributeValue::Bool(true)));
    let AttributeValue::B(stored) = &items[1]["page"] else {
        panic!("page attribute is not binary");
    };
    let stored = angzarr_core::proto::EventPage::decode(stored.as_ref()).unwrap();
    let Some(Payload::External(reference)) = &stored.payload else {
        panic!("the stored page carries no reference: {stored:?}");
    };
    let Some(Payload::Event(original)) = &big.payload else {
        unreachable!()
    };
    assert_eq!(reference.storage_type, PayloadStorageType::S3 as i32);
    assert!(
        reference
            .uri
            .starts_with(&format!("s3://{}/events/", payloads.bucket()))
    );
    assert_eq!(
        reference.content_hash,
        content_hash(&original.encode_to_vec())
    );

    let loaded = store.load_all(&key).await.unwrap();
    assert_eq!(
        loaded[1].payload, big.payload,
        "the event is resolved transparently"
    );
    assert_eq!(label(&loaded[0]), "small");

    // Overwrite the object behind the reference with other bytes.
    let object_key = reference
        .uri
        .strip_prefix(&format!("s3://{}/", payloads.bucket()))
        .unwrap();
    payloads
        .client()
        .put_object()
        .bucket(payloads.bucket())
        .key(object_key)
        .body(vec![b'x'; reference.original_size as usize].into())
        .send()
        .await
        .unwrap();
    let err = store.load_all(&key).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
}

/// Without a payload store, an event over the item limit and a batch over
/// the transaction's 4 MB are refused before anything is written; with one,
/// the same batch is offloaded and stored.
#[tokio::test]
async fn oversized_appends_are_refused_or_offloaded() {
    let plain = common::backend().await.event_store();
    let key = fresh_key("bytes");
    let too_big = sized_event("big", MAX_INLINE_EVENT_BYTES);
    let err = plain.append(&key, 0, vec![too_big]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded { ref what, .. } if what == "event bytes"
        ),
        "{err:?}"
    );
    let batch: Vec<_> = (0..11)
        .map(|i| sized_event(&format!("e{i}"), 380 * 1024))
        .collect();
    let err = plain.append(&key, 0, batch.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded { ref what, .. } if what == "append bytes"
        ),
        "{err:?}"
    );
    assert_eq!(plain.next_sequence(&key).await.unwrap(), 0);

    let (dynamodb, _payloads) = common::offloading_backend().await;
    let offloading = dynamodb.event_store();
    assert_eq!(offloading.append(&key, 0, batch.clone()).await.unwrap(), 11);
    let loaded = offloading.load_all(&key).await.unwrap();
    let payloads: Vec<_> = loaded.into_iter().map(|p| p.payload).collect();
    let expected: Vec<_> = batch.into_iter().map(|p| p.payload).collect();
    assert_eq!(payloads, expected);
}

/// A history of about 2.4 MB takes several `Query` pages (DynamoDB returns at
/// most 1 MB per page) and loads whole, in order, as do ranges across pages.
#[tokio::test]
async fn a_history_over_1mb_loads_whole_through_pagination() {
    let (dynamodb, counter) = common::counted_backend(None).await;
    let store = dynamodb.event_store();
    let key = fresh_key("long");
    let mut next = 0;
    for batch in 0..3 {
        let pages: Vec<_> = (0..8)
            .map(|i| sized_event(&format!("e{}", batch * 8 + i), 100 * 1024))
            .collect();
        next = store.append(&key, next, pages).await.unwrap();
    }
    counter.take();
    let pages = store.load_all(&key).await.unwrap();
    let queries = counter.take();
    assert_eq!(pages.len(), 24);
    let labels: Vec<_> = pages.iter().map(label).collect();
    let expected: Vec<_> = (0..24).map(|i| format!("e{i}")).collect();
    assert_eq!(labels, expected);
    assert!(
        queries.len() >= 3 && queries.iter().all(|q| q == "Query"),
        "2.4 MB needs at least 3 pages: {queries:?}"
    );
    let middle = store.load(&key, LoadRange::between(5, 20)).await.unwrap();
    assert_eq!(
        middle.iter().map(label).collect::<Vec<_>>(),
        expected[5..20]
    );
}

/// Snapshots too large for an item go to the payload store when there is
/// one, and are refused with a typed error when there is none.
#[tokio::test]
async fn large_snapshots_are_offloaded_or_refused() {
    let snapshot = Snapshot {
        sequence: 9,
        state: Some(prost_types::Any {
            type_url: "type.googleapis.com/test.State".into(),
            value: vec![7; 600 * 1024],
        }),
        retention: 0,
    };
    let key = fresh_key("bigsnap");
    let plain = common::backend().await.snapshot_store();
    let err = plain.put(&key, snapshot.clone()).await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    assert_eq!(plain.get(&key).await.unwrap(), None);

    let (dynamodb, _payloads) = common::offloading_backend().await;
    let offloading = dynamodb.snapshot_store();
    offloading.put(&key, snapshot.clone()).await.unwrap();
    assert_eq!(offloading.get(&key).await.unwrap(), Some(snapshot));
}

/// A table that does not exist is a final (not retriable) error.
#[tokio::test]
async fn a_missing_table_is_not_retriable() {
    let dynamodb = common::builder().await.build().await.unwrap();
    let err = dynamodb
        .event_store()
        .next_sequence(&fresh_key("missing"))
        .await
        .unwrap_err();
    assert!(!err.is_retriable(), "{err:?}");
}

/// An outage, twice, on a private moto.
///
/// Frozen (SIGSTOP, state kept; the closest stand-in for a service that stops
/// answering): every operation fails with a retriable `Timeout`. An append
/// caught in the outage may still be applied when moto thaws (its request sat
/// in the socket), so the caller retries from the conflict's actual sequence,
/// as after any retriable error; the history ends up contiguous, with the
/// caught batch either whole or absent.
///
/// Stopped (connections refused): a retriable `Unavailable`. moto keeps its
/// state in memory only, so a restarted moto is empty: after re-creating the
/// tables the store works again, on a new aggregate. Durability across a
/// real restart is DynamoDB's, which no emulator here can show.
#[tokio::test]
async fn an_outage_is_retriable_and_leaves_the_store_consistent() {
    let mut moto = emulators::start_private(Kind::Moto).await;
    let dynamodb = Builder::new()
        .with_table_prefix(&emulators::unique_name("down"))
        .with_region("us-east-1")
        .with_endpoint(moto.endpoint())
        .with_timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .with_max_attempts(1)
        .build()
        .await
        .unwrap();
    create_tables(dynamodb.client(), dynamodb.tables())
        .await
        .unwrap();
    let (store, snapshots) = (dynamodb.event_store(), dynamodb.snapshot_store());
    let (guard, limiter) = (dynamodb.firing_guard(), dynamodb.rate_limiter());
    let key = fresh_key("down");
    store
        .append(&key, 0, vec![event("a"), event("b")])
        .await
        .unwrap();

    moto.pause();
    let caught = vec![event("x1"), event("x2"), event("x3")];
    let errors = [
        store.append(&key, 2, caught).await.unwrap_err(),
        store.load_all(&key).await.unwrap_err(),
        store.next_sequence(&key).await.unwrap_err(),
        snapshots.get(&key).await.unwrap_err(),
        guard
            .acquire("frozen", Duration::from_secs(5))
            .await
            .unwrap_err(),
        limiter
            .check("frozen", 1, Duration::from_secs(1))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(err.is_retriable(), "{err:?}");
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    moto.resume();

    let mut expected = 2;
    loop {
        match store.append(&key, expected, vec![event("d")]).await {
            Ok(_) => break,
            Err(Error::SequenceConflict { actual, .. }) => expected = actual,
            Err(e) => panic!("after the thaw: {e:?}"),
        }
    }
    let labels: Vec<_> = store
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .map(label)
        .collect();
    assert!(
        labels == ["a", "b", "d"] || labels == ["a", "b", "x1", "x2", "x3", "d"],
        "the caught batch is whole or absent: {labels:?}"
    );
    assert_eq!(
        store.next_sequence(&key).await.unwrap() as usize,
        labels.len()
    );

    moto.stop();
    let errors = [
        store.append(&key, 9, vec![event("e")]).await.unwrap_err(),
        store.load_all(&key).await.unwrap_err(),
        snapshots.get(&key).await.unwrap_err(),
        guard
            .acquire("stopped", Duration::from_secs(5))
            .await
            .unwrap_err(),
        limiter
            .check("stopped", 1, Duration::from_secs(1))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(err.is_retriable(), "{err:?}");
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    }

    moto.restart().await;
    create_tables(dynamodb.client(), dynamodb.tables())
        .await
        .unwrap();
    let fresh = fresh_key("down");
    assert_eq!(store.append(&fresh, 0, vec![event("a")]).await.unwrap(), 1);
    assert_eq!(store.append(&fresh, 1, vec![event("b")]).await.unwrap(), 2);
    let labels: Vec<_> = store
        .load_all(&fresh)
        .await
        .unwrap()
        .iter()
        .map(label)
        .collect();
    assert_eq!(labels, ["a", "b"]);
    assert!(matches!(
        guard
            .acquire("stopped", Duration::from_secs(5))
            .await
            .unwrap(),
        Acquisition::Acquired(_)
    ));
}

/// The requests each operation costs, as the README states them.
#[tokio::test]
async fn requests_per_operation() {
    let plain = common::backend().await;
    let (dynamodb, counter) = common::counted_on(&plain, None).await;
    let store = dynamodb.event_store();
    let key = fresh_key("count");

    store
        .append(&key, 0, vec![event("a"), event("b")])
        .await
        .unwrap();
    assert_eq!(counter.take(), ["TransactWriteItems"], "append of a batch");
    store.append(&key, 2, vec![event("c")]).await.unwrap();
    assert_eq!(counter.take(), ["PutItem"], "append of one event");
    let err = store
        .append(&key, 1, vec![event("late")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SequenceConflict { actual: 3, .. }));
    assert_eq!(counter.take(), ["PutItem", "Query"], "conflict");
    store.load_all(&key).await.unwrap();
    assert_eq!(counter.take(), ["Query"], "load of a short history");
    store.load_book(&key, LoadRange::all()).await.unwrap();
    assert_eq!(counter.take(), ["Query"], "load_book to the end");
    store.next_sequence(&key).await.unwrap();
    assert_eq!(counter.take(), ["Query"], "next_sequence");

    // A command in a process that has not seen the aggregate yet: one read
    // (the load) and one write (the append).
    let (cold, cold_counter) = common::counted_on(&plain, None).await;
    let cold = cold.event_store();
    let next = cold
        .load_book(&key, LoadRange::all())
        .await
        .unwrap()
        .next_sequence;
    cold.append(&key, next, vec![event("d")]).await.unwrap();
    assert_eq!(cold_counter.take(), ["Query", "PutItem"], "load + append");
    // A blind append (no load first): the gap check rides in the transaction.
    let (blind, blind_counter) = common::counted_on(&plain, None).await;
    blind
        .event_store()
        .append(&key, next + 1, vec![event("e")])
        .await
        .unwrap();
    assert_eq!(blind_counter.take(), ["TransactWriteItems"], "blind append");

    let snapshots = dynamodb.snapshot_store();
    snapshots.put(&key, Snapshot::default()).await.unwrap();
    snapshots.get(&key).await.unwrap();
    snapshots.delete(&key).await.unwrap();
    assert_eq!(
        counter.take(),
        ["PutItem", "GetItem", "DeleteItem"],
        "snapshots"
    );

    let guard = dynamodb.firing_guard();
    let Acquisition::Acquired(lease) = guard.acquire("g", Duration::from_secs(30)).await.unwrap()
    else {
        panic!("fresh key")
    };
    assert_eq!(counter.take(), ["PutItem"], "acquire");
    assert!(matches!(
        guard.acquire("g", Duration::from_secs(30)).await.unwrap(),
        Acquisition::InProgress { .. }
    ));
    assert_eq!(counter.take(), ["PutItem"], "duplicate while in progress");
    guard
        .complete(&lease, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(counter.take(), ["UpdateItem"], "complete");
    assert_eq!(
        guard.acquire("g", Duration::from_secs(30)).await.unwrap(),
        Acquisition::Completed
    );
    assert_eq!(counter.take(), ["PutItem"], "duplicate after completion");
    let Acquisition::Acquired(lease) = guard.acquire("r", Duration::from_secs(30)).await.unwrap()
    else {
        panic!("fresh key")
    };
    guard.release(&lease).await.unwrap();
    assert_eq!(
        counter.take(),
        ["PutItem", "DeleteItem"],
        "acquire + release"
    );

    let roots: Vec<_> =
        futures::StreamExt::collect::<Vec<_>>(store.aggregate_roots(Some(&key.domain))).await;
    assert_eq!(roots.len(), 1);
    assert_eq!(counter.take(), ["Scan"], "aggregate_roots of a small table");
}

/// A window far longer than the test, so it cannot roll over meanwhile.
const LONG_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The rate-limit items of `key`, bypassing the limiter.
async fn rate_items(
    dynamodb: &angzarr_store_dynamodb::DynamoDb,
    key: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let out = dynamodb
        .client()
        .scan()
        .table_name(&dynamodb.tables().rate_limits)
        .filter_expression("begins_with(pk, :key)")
        .expression_attribute_values(":key", AttributeValue::S(format!("{key}#")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().to_vec()
}

/// Every check is one `UpdateItem`; past `limit + 1` the conditional update
/// is refused and its old item still tells the count, so the counter stops
/// growing and a refusal costs one call too. The item has a TTL.
#[tokio::test]
async fn a_rate_check_is_one_call_and_refusals_stop_counting() {
    let plain = common::backend().await;
    let (dynamodb, counter) = common::counted_on(&plain, None).await;
    let limiter = dynamodb.rate_limiter();
    let key = angzarr_testkit::suites::fresh_name("rl");
    let mut decisions = Vec::new();
    for _ in 0..5 {
        decisions.push(limiter.check(&key, 2, LONG_WINDOW).await.unwrap());
    }
    let allowed: Vec<_> = decisions.iter().map(|d| d.allowed).collect();
    let remaining: Vec<_> = decisions.iter().map(|d| d.remaining).collect();
    assert_eq!(allowed, [true, true, false, false, false]);
    assert_eq!(remaining, [1, 0, 0, 0, 0]);
    assert_eq!(counter.take(), ["UpdateItem"; 5]);
    let items = rate_items(&dynamodb, &key).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].get("count"), Some(&AttributeValue::N("3".into())));
    assert!(matches!(items[0].get("ttl"), Some(AttributeValue::N(_))));
}

/// With shards, each request counts on one of them against its share: a key
/// spreads over at most `shards` items, and never more than `limit` requests
/// are allowed in a window.
#[tokio::test]
async fn a_sharded_rate_limit_spreads_a_key_and_keeps_the_limit() {
    let dynamodb = common::create(common::builder().await.with_rate_limit_shards(4)).await;
    let limiter = dynamodb.rate_limiter();
    let key = angzarr_testkit::suites::fresh_name("sharded");
    let mut allowed = 0;
    for _ in 0..40 {
        if limiter.check(&key, 8, LONG_WINDOW).await.unwrap().allowed {
            allowed += 1;
        }
    }
    assert!((1..=8).contains(&allowed), "{allowed} allowed");
    let items = rate_items(&dynamodb, &key).await;
    assert!((2..=4).contains(&items.len()), "{} shards hit", items.len());
}

/// With a payload store, an offloaded event costs one S3 `PutObject` on
/// append and one `GetObject` on load, on top of the DynamoDB requests.
#[tokio::test]
async fn offloaded_events_cost_one_object_request_each() {
    let counter = common::RequestCounter::default();
    let payloads: Arc<dyn PayloadStore> =
        Arc::new(common::payloads_counted(Some(counter.clone())).await);
    let plain = common::backend().await;
    let (dynamodb, dynamo_counter) = common::counted_on(&plain, Some(payloads)).await;
    let store = dynamodb.event_store();
    let key = fresh_key("costs");
    store
        .append(
            &key,
            0,
            vec![sized_event("big", 500 * 1024), event("small")],
        )
        .await
        .unwrap();
    assert_eq!(counter.take(), ["S3 PUT"]);
    assert_eq!(dynamo_counter.take(), ["TransactWriteItems"]);
    assert_eq!(store.load_all(&key).await.unwrap().len(), 2);
    assert_eq!(counter.take(), ["S3 GET"]);
    assert_eq!(dynamo_counter.take(), ["Query"]);
}

/// Loses the answer of the first request of one operation (`.PutItem`,
/// `.TransactWriteItems`): moto applied the write, but the SDK gets a 503
/// and retries, like after a dropped connection.
#[derive(Clone, Debug)]
struct LoseFirstAnswer {
    of: &'static str,
    operation: Arc<std::sync::Mutex<String>>,
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl LoseFirstAnswer {
    fn of(of: &'static str) -> Self {
        Self {
            of,
            operation: Arc::default(),
            lost: Arc::default(),
        }
    }
}

/// An event store on fresh tables whose client loses answers as `lose` says.
async fn losing_store(lose: &LoseFirstAnswer) -> angzarr_store_dynamodb::DynamoDbEventStore {
    let plain = common::backend().await;
    let config = plain
        .client()
        .config()
        .to_builder()
        .interceptor(lose.clone())
        .build();
    Builder::new()
        .with_tables(plain.tables().clone())
        .with_client(aws_sdk_dynamodb::Client::from_conf(config))
        .build()
        .await
        .unwrap()
        .event_store()
}

impl Intercept for LoseFirstAnswer {
    fn name(&self) -> &'static str {
        "LoseFirstAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target");
        *self.operation.lock().unwrap() = target.unwrap_or_default().to_owned();
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let chosen = self.operation.lock().unwrap().ends_with(self.of);
        if chosen && !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            *context.response_mut().status_mut() = 503.try_into().unwrap();
        }
        Ok(())
    }
}

/// A one-event append whose `PutItem` succeeded but whose answer was lost is
/// retried by the SDK; the retry's refusal returns the item in the way, which
/// carries this append's id, so the append reports success instead of a
/// conflict with itself. A real conflict is still one.
#[tokio::test]
async fn a_retried_put_that_had_succeeded_is_not_a_conflict() {
    let lose = LoseFirstAnswer::of(".PutItem");
    let store = losing_store(&lose).await;
    let key = fresh_key("retried");
    assert_eq!(store.append(&key, 0, vec![event("a")]).await.unwrap(), 1);
    assert!(lose.lost.load(std::sync::atomic::Ordering::SeqCst));
    let labels: Vec<_> = store
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .map(label)
        .collect();
    assert_eq!(labels, ["a"]);
    let err = store.append(&key, 0, vec![event("b")]).await.unwrap_err();
    assert!(
        matches!(err, Error::SequenceConflict { actual: 1, .. }),
        "{err:?}"
    );
}

/// The same for a multi-event append: the first `TransactWriteItems` was
/// applied and its answer lost; the SDK's retry is refused (its items
/// exist). The store reads the first event's `append_id`, finds its own, and
/// reports success: stored once, no conflict with itself.
#[tokio::test]
async fn a_retried_transaction_that_had_succeeded_is_not_a_conflict() {
    let lose = LoseFirstAnswer::of(".TransactWriteItems");
    let store = losing_store(&lose).await;
    let key = fresh_key("retried");
    assert_eq!(
        store
            .append(&key, 0, vec![event("a"), event("b")])
            .await
            .unwrap(),
        2
    );
    assert!(lose.lost.load(std::sync::atomic::Ordering::SeqCst));
    let labels: Vec<_> = store
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .map(label)
        .collect();
    assert_eq!(labels, ["a", "b"]);
    let err = store
        .append(&key, 1, vec![event("c"), event("d")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SequenceConflict { actual: 2, .. }),
        "{err:?}"
    );
}
