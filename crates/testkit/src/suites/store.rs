//! [`EventStore`] conformance.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, EventStore, EventStoreExt, LoadRange};
use futures::StreamExt;

use super::{append_retrying, event, fresh_key, label, sized_event};

fn sequences(pages: &[angzarr_core::proto::EventPage]) -> Vec<u32> {
    pages
        .iter()
        .map(|p| page_sequence(p).expect("stored pages carry a sequence"))
        .collect()
}

fn labels(pages: &[angzarr_core::proto::EventPage]) -> Vec<String> {
    pages.iter().map(label).collect()
}

/// Appended events load back whole, in order, with sequences from 0 and a
/// creation time; the next sequence follows the last event.
pub async fn append_and_load_round_trip(store: Arc<dyn EventStore>) {
    let key = fresh_key("roundtrip");
    assert_eq!(store.next_sequence(&key).await.unwrap(), 0);
    assert!(store.load_all(&key).await.unwrap().is_empty());

    let next = store
        .append(&key, 0, vec![event("a"), event("b"), event("c")])
        .await
        .unwrap();
    assert_eq!(next, 3);
    let next = store.append(&key, 3, vec![event("d")]).await.unwrap();
    assert_eq!(next, 4);

    let pages = store.load_all(&key).await.unwrap();
    assert_eq!(sequences(&pages), vec![0, 1, 2, 3]);
    assert_eq!(labels(&pages), vec!["a", "b", "c", "d"]);
    assert!(pages.iter().all(|p| p.created_at.is_some()));
    assert_eq!(store.next_sequence(&key).await.unwrap(), 4);

    let book = store.load_book(&key, LoadRange::all()).await.unwrap();
    assert_eq!(book.next_sequence, 4);
    assert_eq!(AggregateKey::from_book(&book).unwrap(), key);
}

/// Loading by range returns exactly the sequences asked for.
pub async fn load_ranges(store: Arc<dyn EventStore>) {
    let key = fresh_key("ranges");
    let pages: Vec<_> = (0..10).map(|i| event(&format!("e{i}"))).collect();
    store.append(&key, 0, pages).await.unwrap();

    let from = store.load(&key, LoadRange::from(7)).await.unwrap();
    assert_eq!(sequences(&from), vec![7, 8, 9]);
    let between = store.load(&key, LoadRange::between(2, 5)).await.unwrap();
    assert_eq!(sequences(&between), vec![2, 3, 4]);
    assert_eq!(labels(&between), vec!["e2", "e3", "e4"]);
    assert!(
        store
            .load(&key, LoadRange::from(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .load(&key, LoadRange::between(5, 5))
            .await
            .unwrap()
            .is_empty()
    );
    let book = store
        .load_book(&key, LoadRange::between(0, 2))
        .await
        .unwrap();
    assert_eq!(book.pages.len(), 2);
    assert_eq!(
        book.next_sequence, 10,
        "a partial load still tells the next sequence"
    );
}

/// Two roots of one domain, and one root in two domains, never share events.
pub async fn aggregates_are_isolated(store: Arc<dyn EventStore>) {
    let a = fresh_key("isolated");
    let b = AggregateKey::new(a.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let c = AggregateKey::new(format!("{}x", a.domain), a.root).unwrap();
    store
        .append(&a, 0, vec![event("a0"), event("a1")])
        .await
        .unwrap();
    store.append(&b, 0, vec![event("b0")]).await.unwrap();
    store.append(&c, 0, vec![event("c0")]).await.unwrap();
    assert_eq!(labels(&store.load_all(&a).await.unwrap()), vec!["a0", "a1"]);
    assert_eq!(labels(&store.load_all(&b).await.unwrap()), vec!["b0"]);
    assert_eq!(labels(&store.load_all(&c).await.unwrap()), vec!["c0"]);
}

/// A stale (or future) expected sequence is a conflict carrying the actual
/// next sequence, and writes nothing.
pub async fn stale_expected_sequence_conflicts(store: Arc<dyn EventStore>) {
    let key = fresh_key("conflict");
    store
        .append(&key, 0, vec![event("a"), event("b")])
        .await
        .unwrap();
    for wrong in [0, 1, 3, 7] {
        match store.append(&key, wrong, vec![event("late")]).await {
            Err(Error::SequenceConflict {
                expected, actual, ..
            }) => {
                assert_eq!(expected, wrong);
                assert_eq!(actual, 2);
            }
            other => panic!("expected a conflict at {wrong}, got {other:?}"),
        }
    }
    assert_eq!(labels(&store.load_all(&key).await.unwrap()), vec!["a", "b"]);
    assert_eq!(store.next_sequence(&key).await.unwrap(), 2);
}

/// An append without events is refused.
pub async fn empty_append_is_refused(store: Arc<dyn EventStore>) {
    let key = fresh_key("empty");
    let err = store.append(&key, 0, vec![]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(store.next_sequence(&key).await.unwrap(), 0);
}

/// A multi-event append is written whole or not at all: a batch refused for a
/// conflict or for one oversized event leaves no trace.
pub async fn multi_event_append_is_all_or_nothing(store: Arc<dyn EventStore>) {
    let key = fresh_key("atomic");
    let batch: Vec<_> = (0..10).map(|i| event(&format!("first{i}"))).collect();
    assert_eq!(store.append(&key, 0, batch).await.unwrap(), 10);

    // A stale batch: nothing of it is written.
    let stale: Vec<_> = (0..5).map(|i| event(&format!("stale{i}"))).collect();
    assert!(store.append(&key, 3, stale).await.is_err());

    // A batch whose last event is too large: nothing of it is written.
    let limits = store.limits();
    let mut bad: Vec<_> = (0..3).map(|i| event(&format!("bad{i}"))).collect();
    bad.push(sized_event("too-big", limits.max_event_bytes + 1));
    let err = store.append(&key, 10, bad).await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");

    let pages = store.load_all(&key).await.unwrap();
    assert_eq!(sequences(&pages), (0..10).collect::<Vec<_>>());
    assert!(labels(&pages).iter().all(|l| l.starts_with("first")));
    assert_eq!(store.next_sequence(&key).await.unwrap(), 10);
}

/// Concurrent batches on one aggregate at the same expected sequence: exactly
/// one wins, and the stored events are that writer's batch, whole and in order.
pub async fn concurrent_batches_never_interleave(store: Arc<dyn EventStore>) {
    const WRITERS: usize = 8;
    const BATCH: usize = 5;
    let key = fresh_key("interleave");
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let batch: Vec<_> = (0..BATCH).map(|i| event(&format!("w{w}-{i}"))).collect();
                (w, store.append(&key, 0, batch).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (w, result) = task.await.unwrap();
        match result {
            Ok(next) => {
                assert_eq!(next, BATCH as u32);
                winners.push(w);
            }
            Err(Error::SequenceConflict { actual, .. }) => assert_eq!(actual, BATCH as u32),
            Err(other) => panic!("writer {w}: unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one batch wins: {winners:?}");
    let w = winners[0];
    let expected: Vec<_> = (0..BATCH).map(|i| format!("w{w}-{i}")).collect();
    assert_eq!(labels(&store.load_all(&key).await.unwrap()), expected);
}

/// 16 writers × 100 appends on one aggregate, each retrying from the
/// conflict's actual sequence: sequences 0..1599 are contiguous, and every
/// append is stored exactly once, in each writer's order.
pub async fn concurrent_writers_keep_sequences_contiguous(store: Arc<dyn EventStore>) {
    const WRITERS: usize = 16;
    const APPENDS: usize = 100;
    let key = fresh_key("contended");
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let mut expected = 0;
                for n in 0..APPENDS {
                    let page = event(&format!("{w}:{n}"));
                    let who = format!("writer {w}, append {n}");
                    expected = append_retrying(store.as_ref(), &key, expected, page, &who).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let pages = store.load_all(&key).await.unwrap();
    let total = (WRITERS * APPENDS) as u32;
    assert_eq!(sequences(&pages), (0..total).collect::<Vec<_>>());
    assert_eq!(store.next_sequence(&key).await.unwrap(), total);
    let all = labels(&pages);
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no append is stored twice");
    let mut last_of_writer: HashMap<usize, usize> = HashMap::new();
    for l in &all {
        let (w, n) = l.split_once(':').unwrap();
        let (w, n): (usize, usize) = (w.parse().unwrap(), n.parse().unwrap());
        if let Some(previous) = last_of_writer.insert(w, n) {
            assert_eq!(n, previous + 1, "writer {w}'s appends are stored in order");
        }
    }
    assert!(last_of_writer.values().all(|n| *n == APPENDS - 1));
}

/// The store reports its limits and refuses, with a typed error and without
/// writing, a batch with one event too many or an event one byte too large.
pub async fn limits_are_reported_and_enforced(store: Arc<dyn EventStore>) {
    let limits = store.limits();
    assert!(limits.max_events_per_append >= 1);
    assert!(limits.max_event_bytes >= 1024);
    let key = fresh_key("limits");

    let too_many: Vec<_> = (0..=limits.max_events_per_append)
        .map(|i| event(&format!("e{i}")))
        .collect();
    match store.append(&key, 0, too_many).await {
        Err(Error::LimitExceeded { limit, actual, .. }) => {
            assert_eq!(limit, limits.max_events_per_append as u64);
            assert_eq!(actual, limits.max_events_per_append as u64 + 1);
        }
        other => panic!("expected LimitExceeded for too many events, got {other:?}"),
    }
    let too_large = sized_event("large", limits.max_event_bytes + 1);
    match store.append(&key, 0, vec![too_large]).await {
        Err(Error::LimitExceeded { limit, actual, .. }) => {
            assert_eq!(limit, limits.max_event_bytes as u64);
            assert!(actual > limit);
        }
        other => panic!("expected LimitExceeded for a large event, got {other:?}"),
    }
    assert_eq!(
        store.next_sequence(&key).await.unwrap(),
        0,
        "nothing was written"
    );

    // At the limits, appends succeed: a full batch, and an event of half the byte limit.
    let full: Vec<_> = (0..limits.max_events_per_append)
        .map(|i| event(&format!("e{i}")))
        .collect();
    let next = store.append(&key, 0, full).await.unwrap();
    assert_eq!(next as usize, limits.max_events_per_append);
    let half = sized_event("half", limits.max_event_bytes / 2);
    assert_eq!(
        store.append(&key, next, vec![half]).await.unwrap(),
        next + 1
    );
}

/// Every aggregate with events is listed, filtered by domain when asked.
pub async fn aggregate_roots_are_listed(store: Arc<dyn EventStore>) {
    let a = fresh_key("roots");
    let b = AggregateKey::new(a.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let other = fresh_key("roots");
    for key in [&a, &b, &other] {
        store.append(key, 0, vec![event("x")]).await.unwrap();
    }
    let in_domain: HashSet<AggregateKey> = store
        .aggregate_roots(Some(&a.domain))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(in_domain, HashSet::from([a.clone(), b.clone()]));
    let all: HashSet<AggregateKey> = store
        .aggregate_roots(None)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert!(all.contains(&a) && all.contains(&b) && all.contains(&other));
}
