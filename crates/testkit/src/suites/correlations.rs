//! The correlation index ([`Correlations`]) on every [`EventStore`]: the
//! records of one correlation id are found, merged per aggregate and kept
//! apart from other ids', editions included; concurrent writers of one
//! workflow lose no record; the index is not listed as an aggregate.

use std::sync::Arc;

use angzarr_core::{AggregateKey, Correlations, EventStore, Timelines};
use futures::StreamExt;

use super::fresh_key;

fn id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Records are found by their id, merged per aggregate in recording order,
/// and another id's records are not.
pub async fn records_are_found_by_id_and_merged_per_aggregate(store: Arc<dyn EventStore>) {
    let index = Correlations::new(store.clone());
    let (flow, other) = (id("flow"), id("other"));
    let order = fresh_key("order");
    let stock = fresh_key("stock");
    let rehearsal = order.clone().in_edition("rehearsal").unwrap();
    index.record(&flow, &order, 0, 1).await.unwrap();
    index.record(&flow, &stock, 0, 0).await.unwrap();
    index.record(&flow, &order, 4, 5).await.unwrap();
    index.record(&flow, &rehearsal, 2, 2).await.unwrap();
    index.record(&other, &stock, 1, 1).await.unwrap();

    let found = index.lookup(&flow).await.unwrap();
    let mut expected = vec![
        (order.clone(), vec![(0, 1), (4, 5)]),
        (rehearsal.clone(), vec![(2, 2)]),
        (stock.clone(), vec![(0, 0)]),
    ];
    expected.sort_by_key(|(key, _)| key.storage_key());
    let found: Vec<(AggregateKey, Vec<(u32, u32)>)> =
        found.into_iter().map(|c| (c.key, c.ranges)).collect();
    assert_eq!(found, expected);

    let others = index.lookup(&other).await.unwrap();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].key, stock);
    assert!(index.lookup(&id("none")).await.unwrap().is_empty());
    assert!(index.lookup("").await.is_err(), "an empty id is no query");
    // Nothing is recorded without an id.
    index.record("", &order, 9, 9).await.unwrap();
}

/// Writers of one workflow recording at once lose no record; the index's
/// own aggregates are not listed among the application's.
pub async fn concurrent_recorders_lose_nothing(store: Arc<dyn EventStore>) {
    let index = Correlations::new(store.clone());
    let flow = id("busy");
    let keys: Vec<AggregateKey> = (0..6).map(|_| fresh_key("busy")).collect();
    let writers = keys.iter().cloned().map(|key| {
        let (index, flow) = (index.clone(), flow.clone());
        tokio::spawn(async move { index.record(&flow, &key, 0, 0).await })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap().unwrap();
    }
    let mut found: Vec<AggregateKey> = index
        .lookup(&flow)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key)
        .collect();
    found.sort_by_key(AggregateKey::storage_key);
    let mut expected = keys;
    expected.sort_by_key(AggregateKey::storage_key);
    assert_eq!(found, expected);

    let listed: Vec<AggregateKey> = Timelines::new(store)
        .aggregate_roots(Some(angzarr_core::correlation::CORRELATION_DOMAIN))
        .map(|key| key.unwrap())
        .collect()
        .await;
    assert!(
        listed.is_empty(),
        "the index is not an aggregate: {listed:?}"
    );
}
