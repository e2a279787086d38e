//! Event-store behaviour beyond the conformance suites: a writer that dies
//! between the writes of one append, appends cut off at random points by a
//! tiny timeout, the largest batch the limits allow, and table creation.
//!
//! Run: `cargo test -p angzarr-store-bigtable --test events_atomicity`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use angzarr_core::store::page_sequence;
use angzarr_core::{Error, EventStore, EventStoreExt, LoadRange};
use angzarr_store_bigtable::LIMITS;
use angzarr_testkit::emulators;
use angzarr_testkit::suites::{event, fresh_key, label, sized_event};

fn batch(prefix: &str, n: usize) -> Vec<angzarr_core::proto::EventPage> {
    (0..n).map(|i| event(&format!("{prefix}{i}"))).collect()
}

fn labels(pages: &[angzarr_core::proto::EventPage]) -> Vec<String> {
    pages.iter().map(label).collect()
}

/// A writer dies right after its batch row is written and before the hint
/// row is: a fresh process sees the batch whole (never part of it), a retry
/// of the same append is a conflict (not a duplicate), and the next append
/// goes on from the batch's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_the_writes_of_an_append_leaves_no_partial_batch() {
    let emulator = emulators::bigtable().await;
    let builder = common::builder(&emulator.endpoint());
    let first_process = builder.clone().build().await.unwrap();
    first_process.create_tables().await.unwrap();
    let store = first_process.event_store();
    let key = fresh_key("crash");
    assert_eq!(store.append(&key, 0, batch("a", 10)).await.unwrap(), 10);

    // 10 → 20 crosses a hint stride, so this append has a second write to
    // skip: the crash happens between the two.
    let crashing = store.clone().crashing_after_commit();
    let err = crashing.append(&key, 10, batch("b", 10)).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");

    // A new process: no cache, and a hint row that was never raised.
    let second_process = builder.build().await.unwrap();
    let fresh = second_process.event_store();
    let pages = fresh.load_all(&key).await.unwrap();
    let mut expected: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    expected.extend((0..10).map(|i| format!("b{i}")));
    assert_eq!(labels(&pages), expected, "the batch is visible whole");
    assert_eq!(fresh.next_sequence(&key).await.unwrap(), 20);

    // The crashed writer retries its append: a conflict, not a duplicate.
    match fresh.append(&key, 10, batch("b", 10)).await {
        Err(Error::SequenceConflict { actual, .. }) => assert_eq!(actual, 20),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(fresh.append(&key, 20, batch("c", 1)).await.unwrap(), 21);
    let sequences: Vec<u32> = fresh
        .load_all(&key)
        .await
        .unwrap()
        .iter()
        .filter_map(page_sequence)
        .collect();
    assert_eq!(sequences, (0..21).collect::<Vec<_>>());
}

/// Appends cut off at random points of their requests (a timeout of a few
/// milliseconds, so some commits land and some do not, and the writer never
/// knows which): afterwards every batch is stored whole or not at all, and
/// sequences are contiguous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_interrupted_at_any_point_are_whole_or_absent() {
    let emulator = emulators::bigtable().await;
    let builder = common::builder(&emulator.endpoint());
    let reliable = builder.clone().build().await.unwrap();
    reliable.create_tables().await.unwrap();
    let key = fresh_key("interrupted");
    let mut interrupted = 0;
    for attempt in 0..40u64 {
        let flaky = builder
            .clone()
            .with_timeout(Duration::from_micros(500 + attempt * 150))
            .build()
            .await
            .unwrap()
            .event_store();
        let expected = reliable.event_store().next_sequence(&key).await.unwrap();
        match flaky
            .append(&key, expected, batch(&format!("t{attempt}-"), 5))
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_retriable() => interrupted += 1,
            // An earlier interrupted append can land after we read the end.
            Err(Error::SequenceConflict { .. }) => {}
            Err(e) => panic!("attempt {attempt}: {e:?}"),
        }
    }
    let pages = reliable.event_store().load_all(&key).await.unwrap();
    let sequences: Vec<u32> = pages.iter().filter_map(page_sequence).collect();
    assert_eq!(sequences, (0..pages.len() as u32).collect::<Vec<_>>());
    let mut per_batch: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in labels(&pages) {
        let (batch, _) = l.split_once('-').unwrap();
        per_batch.entry(batch.to_owned()).or_default().push(l);
    }
    for (batch, events) in &per_batch {
        let whole: Vec<String> = (0..5).map(|i| format!("{batch}-{i}")).collect();
        assert_eq!(events, &whole, "batch {batch} is whole and in order");
    }
    eprintln!(
        "{interrupted} of 40 appends were interrupted; {} batches stored",
        per_batch.len()
    );
}

/// The largest append the limits allow (100 events of 256 KiB, 25 MiB in
/// one row) is accepted by the emulator and loads back, also by range from
/// the middle of the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_batch_the_limits_allow_round_trips() {
    let backend = common::backend().await;
    let store = backend.event_store();
    let key = fresh_key("largest");
    // `sized_event` pads the label: stay just under the per-event limit.
    let padding = LIMITS.max_event_bytes - 200;
    let pages: Vec<_> = (0..LIMITS.max_events_per_append)
        .map(|i| sized_event(&format!("big{i}"), padding))
        .collect();
    let count = LIMITS.max_events_per_append as u32;
    assert_eq!(store.append(&key, 0, pages).await.unwrap(), count);
    let middle = store.load(&key, LoadRange::between(50, 53)).await.unwrap();
    assert_eq!(labels(&middle), vec!["big50", "big51", "big52"]);
    assert_eq!(store.load_all(&key).await.unwrap().len(), count as usize);
}

/// Loading from inside a batch that starts long before, across several
/// batches, returns exactly the sequences asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_across_batches_return_exactly_what_was_asked() {
    let backend = common::backend().await;
    let store = backend.event_store();
    let key = fresh_key("across");
    let mut next = 0;
    for (n, size) in [90usize, 3, 1, 40].into_iter().enumerate() {
        next = store
            .append(&key, next, batch(&format!("b{n}-"), size))
            .await
            .unwrap();
    }
    assert_eq!(next, 134);
    for (from, to) in [(5, 95), (89, 94), (92, 93), (93, 134), (0, 1), (133, 200)] {
        let pages = store
            .load(&key, LoadRange::between(from, to))
            .await
            .unwrap();
        let sequences: Vec<u32> = pages.iter().filter_map(page_sequence).collect();
        assert_eq!(
            sequences,
            (from..to.min(134)).collect::<Vec<_>>(),
            "{from}..{to}"
        );
    }
    // A start inside the 40-event batch is refused with the real end.
    match store.append(&key, 100, batch("x", 1)).await {
        Err(Error::SequenceConflict { actual, .. }) => assert_eq!(actual, 134),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Creating the tables twice changes nothing, and the stores work after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_tables_is_idempotent() {
    let backend = common::backend().await;
    backend.create_tables().await.unwrap();
    let key = fresh_key("idempotent");
    assert_eq!(
        backend
            .event_store()
            .append(&key, 0, batch("a", 1))
            .await
            .unwrap(),
        1
    );
}

/// An existing table without the needed family gets it added: here the
/// snapshots of one backend live in another backend's events table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_tables_adds_a_missing_family_to_an_existing_table() {
    use angzarr_core::SnapshotStore;
    use angzarr_core::proto::Snapshot;

    let emulator = emulators::bigtable().await;
    let shared_table = emulators::unique_name("shared");
    let first = common::builder(&emulator.endpoint())
        .with_events_table(&shared_table)
        .build()
        .await
        .unwrap();
    first.create_tables().await.unwrap();
    let second = common::builder(&emulator.endpoint())
        .with_snapshots_table(&shared_table)
        .build()
        .await
        .unwrap();
    second.create_tables().await.unwrap();
    let key = fresh_key("family");
    let snapshot = Snapshot {
        sequence: 3,
        ..Default::default()
    };
    second.snapshot_store().put(&key, snapshot).await.unwrap();
    assert_eq!(
        second
            .snapshot_store()
            .get(&key)
            .await
            .unwrap()
            .unwrap()
            .sequence,
        3
    );
    assert_eq!(
        first
            .event_store()
            .append(&key, 0, batch("a", 1))
            .await
            .unwrap(),
        1
    );
}

/// 16 writers, each in a process of its own (its own backend, so nothing is
/// shared but the table), append 20 batches of 1 to 4 events each to one
/// aggregate. After a conflict a writer sometimes retries from one sequence
/// before the actual end (inside or at the start of the last batch), which
/// must be refused as well. Afterwards: sequences contiguous, every batch
/// stored exactly once, whole and in order, each writer's batches in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_separate_processes_never_overlap_batches() {
    const WRITERS: usize = 16;
    const BATCHES: usize = 20;
    let emulator = emulators::bigtable().await;
    let builder = common::builder(&emulator.endpoint());
    builder
        .clone()
        .build()
        .await
        .unwrap()
        .create_tables()
        .await
        .unwrap();
    let key = fresh_key("processes");
    let size = |w: usize, n: usize| 1 + (w + n) % 4;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (builder, key) = (builder.clone(), key.clone());
            tokio::spawn(async move {
                let store = builder.build().await.unwrap().event_store();
                let mut expected = 0;
                let mut conflicts = 0usize;
                let mut refused_inside = 0usize;
                for n in 0..BATCHES {
                    loop {
                        let pages = batch(&format!("{w}.{n}-"), size(w, n));
                        match store.append(&key, expected, pages).await {
                            Ok(next) => {
                                expected = next;
                                break;
                            }
                            Err(Error::SequenceConflict { actual, .. }) => {
                                conflicts += 1;
                                // Every third conflict: a stale retry first.
                                if conflicts.is_multiple_of(3) && actual > 0 {
                                    let stale = batch("stale-", 1);
                                    match store.append(&key, actual - 1, stale).await {
                                        Err(Error::SequenceConflict { .. }) => refused_inside += 1,
                                        other => {
                                            panic!("stale append at {}: {other:?}", actual - 1)
                                        }
                                    }
                                }
                                expected = actual;
                            }
                            Err(e) if e.is_retriable() => {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            Err(e) => panic!("writer {w}, batch {n}: {e:?}"),
                        }
                    }
                }
                refused_inside
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        refused += task.await.unwrap();
    }

    let store = builder.build().await.unwrap().event_store();
    let pages = store.load_all(&key).await.unwrap();
    let total: usize = (0..WRITERS)
        .flat_map(|w| (0..BATCHES).map(move |n| size(w, n)))
        .sum();
    let sequences: Vec<u32> = pages.iter().filter_map(page_sequence).collect();
    assert_eq!(sequences, (0..total as u32).collect::<Vec<_>>());
    assert_eq!(store.next_sequence(&key).await.unwrap(), total as u32);

    // Walk the history batch by batch: each batch is one writer's, whole.
    let all = labels(&pages);
    let mut next_batch_of = [0usize; WRITERS];
    let mut i = 0;
    while i < all.len() {
        let (id, _) = all[i].split_once('-').unwrap();
        let (w, n) = id.split_once('.').unwrap();
        let (w, n): (usize, usize) = (w.parse().unwrap(), n.parse().unwrap());
        assert_eq!(
            n, next_batch_of[w],
            "writer {w}'s batches are in order, once"
        );
        let whole: Vec<String> = (0..size(w, n)).map(|j| format!("{id}-{j}")).collect();
        assert_eq!(
            &all[i..i + whole.len()],
            whole.as_slice(),
            "batch {id} at {i}"
        );
        next_batch_of[w] += 1;
        i += whole.len();
    }
    assert!(next_batch_of.iter().all(|n| *n == BATCHES), "none lost");
    eprintln!("{refused} stale appends at (actual - 1) were refused");
}
