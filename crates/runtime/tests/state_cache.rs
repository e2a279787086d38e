//! The in-process state cache (`cache_states`): commands on a hot aggregate
//! start from the cached state, and the state they see is never stale —
//! under concurrency, across stored snapshots, and when the cache is full.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemorySnapshotStore};
use angzarr_core::proto::{CommandRequest, EventPage, Snapshot};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, EventStoreExt, Result, SnapshotStore, any};
use angzarr_runtime::AggregateCoordinator;
use angzarr_runtime::authoring::{AggregateLogic, command, event};
use async_trait::async_trait;

#[derive(Clone, PartialEq, prost::Message)]
struct Add {
    #[prost(uint64, tag = "1")]
    by: u64,
}
/// Records the total the handler saw, so a stale state shows in the history.
#[derive(Clone, PartialEq, prost::Message)]
struct Added {
    #[prost(uint64, tag = "1")]
    by: u64,
    #[prost(uint64, tag = "2")]
    total_after: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Counter {
    #[prost(uint64, tag = "1")]
    total: u64,
}
macro_rules! named {
    ($($t:ty => $n:literal),*) => {$(impl prost::Name for $t {
        const NAME: &'static str = $n;
        const PACKAGE: &'static str = "test";
    })*};
}
named!(Add => "Add", Added => "Added", Counter => "Counter");

fn counter() -> AggregateLogic<Counter> {
    AggregateLogic::new("counter")
        .apply(|c: &mut Counter, e: Added| c.total += e.by)
        .handle(|c: &Counter, cmd: Add| {
            Ok(vec![event(&Added {
                by: cmd.by,
                total_after: c.total + cmd.by,
            })])
        })
}

fn add(root: uuid::Uuid) -> CommandRequest {
    CommandRequest {
        command: Some(command("counter", root, "test", &Add { by: 1 })),
        ..Default::default()
    }
}

/// Counts snapshot reads.
#[derive(Debug, Default)]
struct CountingSnapshots {
    inner: MemorySnapshotStore,
    gets: AtomicUsize,
}

#[async_trait]
impl SnapshotStore for CountingSnapshots {
    async fn get(&self, key: &AggregateKey) -> Result<Option<Snapshot>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn put(&self, key: &AggregateKey, snapshot: Snapshot) -> Result<()> {
        self.inner.put(key, snapshot).await
    }
    async fn delete(&self, key: &AggregateKey) -> Result<()> {
        self.inner.delete(key).await
    }
}

fn totals(pages: &[EventPage]) -> Vec<u64> {
    pages
        .iter()
        .map(|p| match &p.payload {
            Some(angzarr_core::proto::event_page::Payload::Event(e)) => {
                any::unpack::<Added>(e).unwrap().total_after
            }
            other => panic!("not an event: {other:?}"),
        })
        .collect()
}

/// Runs 25 commands on one counter through `handler`, with the state cache
/// and a snapshot every 10 events; the store, the snapshots and the root.
async fn twenty_five_commands(
    handler: Arc<dyn angzarr_runtime::CommandHandler>,
) -> (Arc<MemoryEventStore>, Arc<CountingSnapshots>, uuid::Uuid) {
    let store = Arc::new(MemoryEventStore::new());
    let snapshots = Arc::new(CountingSnapshots::default());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("counter", handler)
        .snapshots(snapshots.clone())
        .snapshot_every(10)
        .cache_states(100)
        .build();
    let root = uuid::Uuid::new_v4();
    for _ in 0..25 {
        coordinator.handle(add(root)).await.unwrap();
    }
    (store, snapshots, root)
}

#[tokio::test]
async fn a_hot_aggregate_starts_from_the_cached_state() {
    let (store, snapshots, root) = twenty_five_commands(Arc::new(counter())).await;
    assert_eq!(
        snapshots.gets.load(Ordering::SeqCst),
        1,
        "only the first command reads the snapshot store"
    );
    let key = AggregateKey::new("counter", root).unwrap();
    let pages = store.load_all(&key).await.unwrap();
    assert_eq!(totals(&pages), (1..=25).collect::<Vec<_>>());
    // The every-10 snapshots were written from the cached state.
    let stored = snapshots.inner.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.sequence, 19);
    let state: Counter = any::unpack(stored.state.as_ref().unwrap()).unwrap();
    assert_eq!(state.total, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_never_see_a_stale_cached_state() {
    const CLIENTS: usize = 16;
    const COMMANDS: usize = 25;
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = Arc::new(
        AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
            .handler("counter", Arc::new(counter()))
            .snapshots(Arc::new(MemorySnapshotStore::new()))
            .snapshot_every(7)
            .cache_states(100)
            .build(),
    );
    let root = uuid::Uuid::new_v4();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let coordinator = coordinator.clone();
            tokio::spawn(async move {
                for _ in 0..COMMANDS {
                    coordinator.handle(add(root)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let key = AggregateKey::new("counter", root).unwrap();
    let pages = store.load_all(&key).await.unwrap();
    let total = (CLIENTS * COMMANDS) as u64;
    let sequences: Vec<u32> = pages.iter().filter_map(page_sequence).collect();
    assert_eq!(sequences, (0..total as u32).collect::<Vec<_>>());
    assert_eq!(
        totals(&pages),
        (1..=total).collect::<Vec<_>>(),
        "every command decided on the state through the event before it"
    );
}

#[tokio::test]
async fn a_full_cache_still_answers_correctly() {
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("counter", Arc::new(counter()))
        .cache_states(2)
        .build();
    let roots: Vec<_> = (0..5).map(|_| uuid::Uuid::new_v4()).collect();
    for _ in 0..4 {
        for root in &roots {
            coordinator.handle(add(*root)).await.unwrap();
        }
    }
    for root in roots {
        let key = AggregateKey::new("counter", root).unwrap();
        assert_eq!(
            totals(&store.load_all(&key).await.unwrap()),
            vec![1, 2, 3, 4]
        );
    }
}

/// The counter, answering `Replay` as a handler written with the published
/// Python `CommandRouter` does over gRPC: UNIMPLEMENTED.
#[derive(Debug)]
struct NoReplay {
    inner: AggregateLogic<Counter>,
    replays: AtomicUsize,
}

#[async_trait]
impl angzarr_runtime::CommandHandler for NoReplay {
    async fn handle(
        &self,
        command: angzarr_core::proto::ContextualCommand,
    ) -> Result<angzarr_core::proto::BusinessResponse> {
        angzarr_runtime::CommandHandler::handle(&self.inner, command).await
    }
    async fn replay(
        &self,
        _: angzarr_core::proto::ReplayRequest,
    ) -> Result<angzarr_core::proto::ReplayResponse> {
        self.replays.fetch_add(1, Ordering::SeqCst);
        Err(angzarr_core::error::wire::error_from_status(
            "counter",
            tonic::Status::unimplemented("Method not found!"),
        ))
    }
}

#[tokio::test]
async fn a_handler_without_replay_is_asked_once_and_its_commands_still_run() {
    let handler = Arc::new(NoReplay {
        inner: counter(),
        replays: AtomicUsize::new(0),
    });
    let (store, snapshots, root) = twenty_five_commands(handler.clone()).await;
    assert_eq!(
        handler.replays.load(Ordering::SeqCst),
        1,
        "Replay is asked once, not per command"
    );
    let key = AggregateKey::new("counter", root).unwrap();
    let pages = store.load_all(&key).await.unwrap();
    assert_eq!(
        totals(&pages),
        (1..=25).collect::<Vec<_>>(),
        "every command saw the whole history"
    );
    assert!(
        snapshots.inner.get(&key).await.unwrap().is_none(),
        "the runtime made no snapshot it could not fold"
    );
}
