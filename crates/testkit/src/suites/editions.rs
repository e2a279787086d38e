//! Edition isolation: every [`EventStore`] under [`Timelines`].
//!
//! Each suite takes the plain store, wraps it as every host does, and checks
//! what the store itself holds: an edition's writes never touch the main
//! history's records, and writers on the main timeline and on an edition
//! never conflict with each other.

use std::collections::HashSet;
use std::sync::Arc;

use angzarr_core::store::page_sequence;
use angzarr_core::{
    AggregateKey, Error, ErrorCode, EventStore, EventStoreExt, LoadRange, Timelines,
};
use futures::StreamExt;

use super::{append_retrying, event, fresh_key, label};

fn sequences(pages: &[angzarr_core::proto::EventPage]) -> Vec<u32> {
    pages
        .iter()
        .map(|p| page_sequence(p).expect("stored pages carry a sequence"))
        .collect()
}

fn labels(pages: &[angzarr_core::proto::EventPage]) -> Vec<String> {
    pages.iter().map(label).collect()
}

fn edition(key: &AggregateKey, name: &str) -> AggregateKey {
    key.clone().in_edition(name).expect("a valid edition name")
}

/// A main history of `count` events labelled `m0`, `m1`, ...
async fn main_history(store: &dyn EventStore, key: &AggregateKey, count: u32) {
    let pages = (0..count).map(|i| event(&format!("m{i}"))).collect();
    store.append(key, 0, pages).await.unwrap();
}

/// An edition reads as the main history until its first write; after it,
/// the main history up to the divergence point and then its own events,
/// numbered on. The main history's records are untouched, and it goes on
/// growing on its own.
pub async fn an_edition_branches_off_the_main_history(raw: Arc<dyn EventStore>) {
    let store = Timelines::new(raw.clone());
    let key = fresh_key("branch");
    let v2 = edition(&key, "v2");
    main_history(&store, &key, 5).await;

    assert_eq!(store.next_sequence(&v2).await.unwrap(), 5);
    assert_eq!(
        labels(&store.load_all(&v2).await.unwrap()),
        ["m0", "m1", "m2", "m3", "m4"]
    );

    let next = store
        .append(&v2, 5, vec![event("v5"), event("v6")])
        .await
        .unwrap();
    assert_eq!(next, 7);
    assert_eq!(store.append(&key, 5, vec![event("m5")]).await.unwrap(), 6);

    let branch = store.load_all(&v2).await.unwrap();
    assert_eq!(sequences(&branch), (0..7).collect::<Vec<_>>());
    assert_eq!(labels(&branch), ["m0", "m1", "m2", "m3", "m4", "v5", "v6"]);
    assert_eq!(store.next_sequence(&v2).await.unwrap(), 7);
    let middle = store.load(&v2, LoadRange::between(3, 6)).await.unwrap();
    assert_eq!(labels(&middle), ["m3", "m4", "v5"]);
    assert_eq!(sequences(&middle), [3, 4, 5]);
    let tail = store.load(&v2, LoadRange::from(6)).await.unwrap();
    assert_eq!(
        (sequences(&tail), labels(&tail)),
        (vec![6], vec!["v6".to_owned()])
    );
    assert!(
        store
            .load(&v2, LoadRange::from(7))
            .await
            .unwrap()
            .is_empty()
    );

    // What the store holds for the main timeline: its own six events only.
    let main = raw.load_all(&key).await.unwrap();
    assert_eq!(labels(&main), ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert_eq!(raw.next_sequence(&key).await.unwrap(), 6);
    assert_eq!(store.recorded_divergence(&v2).await.unwrap(), Some(5));

    // Aggregates are listed once, by their main timeline.
    let listed: Vec<_> = store
        .aggregate_roots(Some(&key.domain))
        .map(|k| k.unwrap())
        .collect()
        .await;
    assert_eq!(listed, vec![key]);
}

/// An explicit divergence point is honoured before the edition has events
/// and recorded by its first write; a different one later, or one past the
/// main history's end, is refused without writing anything.
pub async fn an_explicit_divergence_is_recorded_once(raw: Arc<dyn EventStore>) {
    let store = Timelines::new(raw.clone());
    let key = fresh_key("diverge");
    let early = edition(&key, "early");
    main_history(&store, &key, 5).await;

    let before = store
        .load_at(&early, LoadRange::all(), Some(2))
        .await
        .unwrap();
    assert_eq!(labels(&before), ["m0", "m1"]);
    assert_eq!(store.next_sequence_at(&early, Some(2)).await.unwrap(), 2);

    let beyond = store
        .append_at(&early, 9, vec![event("x")], Some(9))
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), ErrorCode::InvalidArgument, "{beyond}");
    assert!(
        raw.load_all(&early).await.unwrap().is_empty(),
        "nothing written"
    );

    let next = store
        .append_at(&early, 2, vec![event("e2")], Some(2))
        .await
        .unwrap();
    assert_eq!(next, 3);
    let branch = store.load_all(&early).await.unwrap();
    assert_eq!(labels(&branch), ["m0", "m1", "e2"]);
    assert_eq!(sequences(&branch), [0, 1, 2]);

    let moved = store
        .append_at(&early, 3, vec![event("e3")], Some(3))
        .await
        .unwrap_err();
    assert_eq!(moved.code(), ErrorCode::InvalidArgument, "{moved}");
    // Naming the recorded point again is fine.
    let next = store
        .append_at(&early, 3, vec![event("e3")], Some(2))
        .await
        .unwrap();
    assert_eq!(next, 4);
    assert_eq!(labels(&raw.load_all(&key).await.unwrap()).len(), 5);
}

/// A stale expected sequence on an edition conflicts with the edition's
/// own end, as on the main timeline; so does one before the divergence.
pub async fn stale_appends_to_an_edition_conflict(raw: Arc<dyn EventStore>) {
    let store = Timelines::new(raw);
    let key = fresh_key("stale");
    let v2 = edition(&key, "v2");
    main_history(&store, &key, 3).await;

    let ahead = store.append(&v2, 4, vec![event("x")]).await.unwrap_err();
    assert!(
        matches!(ahead, Error::SequenceConflict { actual: 3, .. }),
        "{ahead:?}"
    );
    store
        .append(&v2, 3, vec![event("v3"), event("v4")])
        .await
        .unwrap();
    for stale in [1, 3, 4, 6] {
        let err = store
            .append(&v2, stale, vec![event("x")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::SequenceConflict { actual: 5, .. }),
            "expected {stale}: {err:?}"
        );
    }
    assert_eq!(
        labels(&store.load_all(&v2).await.unwrap()),
        ["m0", "m1", "m2", "v3", "v4"]
    );
}

/// Two editions of one aggregate, and an edition of another aggregate,
/// never see each other's events.
pub async fn editions_are_isolated_from_each_other(raw: Arc<dyn EventStore>) {
    let store = Timelines::new(raw);
    let key = fresh_key("sibling");
    let other = AggregateKey::new(key.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    main_history(&store, &key, 2).await;
    let (a, b, other_a) = (edition(&key, "a"), edition(&key, "b"), edition(&other, "a"));

    store.append(&a, 2, vec![event("a2")]).await.unwrap();
    store
        .append(&b, 2, vec![event("b2"), event("b3")])
        .await
        .unwrap();
    store.append(&other_a, 0, vec![event("o0")]).await.unwrap();

    assert_eq!(
        labels(&store.load_all(&a).await.unwrap()),
        ["m0", "m1", "a2"]
    );
    assert_eq!(
        labels(&store.load_all(&b).await.unwrap()),
        ["m0", "m1", "b2", "b3"]
    );
    assert_eq!(labels(&store.load_all(&other_a).await.unwrap()), ["o0"]);
    assert!(store.load_all(&other).await.unwrap().is_empty());
    assert_eq!(labels(&store.load_all(&key).await.unwrap()), ["m0", "m1"]);
}

/// Writers on the main timeline and on an edition of the same aggregate,
/// all at once, each retrying its own conflicts: both histories end
/// contiguous, each holds exactly its own writers' events after the
/// divergence, and no event lands on the wrong timeline.
pub async fn concurrent_writers_on_main_and_an_edition_do_not_interfere(raw: Arc<dyn EventStore>) {
    const WRITERS: usize = 3;
    const APPENDS: usize = 15;
    let store: Arc<dyn EventStore> = Arc::new(Timelines::new(raw.clone()));
    let key = fresh_key("contended");
    let v2 = edition(&key, "v2");
    main_history(store.as_ref(), &key, 3).await;

    let tasks: Vec<_> = (0..WRITERS * 2)
        .map(|w| {
            let store = store.clone();
            let (target, side) = if w % 2 == 0 {
                (key.clone(), "main")
            } else {
                (v2.clone(), "edition")
            };
            tokio::spawn(async move {
                let mut expected = 3;
                for n in 0..APPENDS {
                    let page = event(&format!("{side}:{w}:{n}"));
                    let who = format!("{side} writer {w}, append {n}");
                    expected = append_retrying(store.as_ref(), &target, expected, page, &who).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let end = 3 + (WRITERS * APPENDS) as u32;
    for (timeline, side) in [(&key, "main"), (&v2, "edition")] {
        let pages = store.load_all(timeline).await.unwrap();
        assert_eq!(sequences(&pages), (0..end).collect::<Vec<_>>(), "{side}");
        assert_eq!(store.next_sequence(timeline).await.unwrap(), end, "{side}");
        let all = labels(&pages);
        assert_eq!(all[..3], ["m0", "m1", "m2"], "{side}");
        let own: HashSet<_> = all[3..].iter().collect();
        assert_eq!(
            own.len(),
            WRITERS * APPENDS,
            "{side}: no append stored twice"
        );
        assert!(
            own.iter().all(|l| l.starts_with(&format!("{side}:"))),
            "{side} holds only its own writers' events: {all:?}"
        );
    }
    let stored_main = raw.load_all(&key).await.unwrap();
    assert_eq!(stored_main.len(), end as usize);
    assert!(
        labels(&stored_main)
            .iter()
            .all(|l| !l.starts_with("edition:"))
    );
}

/// Deleting an edition in a domain removes its events (and its divergence
/// marker) from every aggregate of that domain, answering how many of its
/// own events each had; the main histories, other editions and other
/// domains are untouched, the deleted edition reads as main again, and it
/// can be written anew. The main timeline is never deleted.
pub async fn deleting_an_edition_leaves_main_and_everything_else(raw: Arc<dyn EventStore>) {
    let store = Timelines::new(raw.clone());
    // A domain of this test's own, so that the deletion sees only its keys.
    let a = fresh_key("drop");
    let domain = a.domain.clone();
    let b = AggregateKey::new(&domain, uuid::Uuid::new_v4()).unwrap();
    let elsewhere = fresh_key("dropother");
    for key in [&a, &b, &elsewhere] {
        main_history(&store, key, 2).await;
    }
    let (a_gone, b_gone) = (edition(&a, "gone"), edition(&b, "gone"));
    // More events than one DynamoDB BatchWriteItem deletes, in two appends
    // (two Bigtable batch rows).
    let many: Vec<_> = (2..20).map(|i| event(&format!("a{i}"))).collect();
    store.append(&a_gone, 2, many).await.unwrap();
    let more: Vec<_> = (20..32).map(|i| event(&format!("a{i}"))).collect();
    store.append(&a_gone, 20, more).await.unwrap();
    store.append(&b_gone, 1, vec![event("b1")]).await.unwrap();
    let a_kept = edition(&a, "kept");
    store.append(&a_kept, 2, vec![event("k2")]).await.unwrap();
    let elsewhere_gone = edition(&elsewhere, "gone");
    store
        .append(&elsewhere_gone, 2, vec![event("o2")])
        .await
        .unwrap();

    let mut deleted = store.delete_edition(&domain, "gone").await.unwrap();
    deleted.sort();
    let mut expected = vec![(a_gone.clone(), 30), (b_gone.clone(), 1)];
    expected.sort();
    assert_eq!(deleted, expected);

    // The raw store holds nothing of the deleted edition any more.
    assert!(raw.load_all(&a_gone).await.unwrap().is_empty());
    assert!(raw.load_all(&b_gone).await.unwrap().is_empty());
    // Main, another edition, another domain's edition: untouched.
    assert_eq!(labels(&store.load_all(&a).await.unwrap()), ["m0", "m1"]);
    assert_eq!(labels(&store.load_all(&b).await.unwrap()), ["m0", "m1"]);
    assert_eq!(
        labels(&store.load_all(&a_kept).await.unwrap()),
        ["m0", "m1", "k2"]
    );
    assert_eq!(
        labels(&store.load_all(&elsewhere_gone).await.unwrap()),
        ["m0", "m1", "o2"]
    );
    // The deleted edition reads as main again, and starts over.
    assert_eq!(
        labels(&store.load_all(&b_gone).await.unwrap()),
        ["m0", "m1"]
    );
    assert_eq!(store.next_sequence(&a_gone).await.unwrap(), 2);
    store
        .append(&a_gone, 2, vec![event("again")])
        .await
        .unwrap();
    assert_eq!(
        labels(&store.load_all(&a_gone).await.unwrap()),
        ["m0", "m1", "again"]
    );

    // Nothing left to delete in an edition nobody wrote.
    assert!(
        store
            .delete_edition(&domain, "never")
            .await
            .unwrap()
            .is_empty()
    );
    for main in ["", "angzarr"] {
        let refused = store.delete_edition(&domain, main).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidArgument, "{main:?}");
    }
    assert_eq!(
        store.delete(&a).await.unwrap_err().code(),
        ErrorCode::InvalidArgument,
        "the main timeline is never deleted"
    );
    assert_eq!(labels(&store.load_all(&a).await.unwrap()), ["m0", "m1"]);
}
