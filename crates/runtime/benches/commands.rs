//! Command throughput and latency on the memory backends, with business logic
//! in process.
//!
//! ```text
//! cargo bench -p angzarr-runtime --bench commands
//! ```
//!
//! * throughput: one aggregate (snapshot every 100 events, so its history
//!   stays cheap to load), and 10 000 aggregates round-robin (no snapshots),
//!   with 1 and 10 events per command, each without and with the in-process
//!   state cache (`cache_states`); on a current-thread runtime, i.e. one core;
//! * latency: one command against a history of 100 or 100 000 events, with
//!   and without a snapshot at the end of the history. Every iteration uses a
//!   fresh root over one shared base history (see `FixedHistory`), so the
//!   history is exactly that long for every command.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemorySnapshotStore};
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, EventPage, ReplayRequest, Snapshot};
use angzarr_core::store::prepare_append;
use angzarr_core::{
    AggregateKey, Error, EventStore, LoadRange, Result, SnapshotStore, StoreLimits, any,
};
use angzarr_runtime::authoring::{AggregateLogic, command, event};
use angzarr_runtime::{AggregateCoordinator, CommandHandler};
use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::stream::{self, BoxStream, StreamExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Add {
    #[prost(uint32, tag = "1")]
    by: u32,
    #[prost(uint32, tag = "2")]
    events: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Added {
    #[prost(uint32, tag = "1")]
    by: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Counter {
    #[prost(uint64, tag = "1")]
    total: u64,
}
macro_rules! named {
    ($($t:ty => $n:literal),*) => {$(impl prost::Name for $t {
        const NAME: &'static str = $n;
        const PACKAGE: &'static str = "bench";
    })*};
}
named!(Add => "Add", Added => "Added", Counter => "Counter");

fn counter() -> AggregateLogic<Counter> {
    AggregateLogic::new("counter")
        .apply(|c: &mut Counter, e: Added| c.total += u64::from(e.by))
        .handle(|_: &Counter, c: Add| {
            Ok((0..c.events).map(|_| event(&Added { by: c.by })).collect())
        })
}

fn add(root: uuid::Uuid, events: u32) -> CommandRequest {
    CommandRequest {
        command: Some(command("counter", root, "bench", &Add { by: 1, events })),
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn coordinator(snapshot_every: Option<u32>, cache: bool) -> AggregateCoordinator {
    let mut builder = AggregateCoordinator::builder(
        Arc::new(MemoryEventStore::new()),
        Arc::new(MemoryBus::new()),
    )
    .handler("counter", Arc::new(counter()));
    if let Some(every) = snapshot_every {
        builder = builder
            .snapshots(Arc::new(MemorySnapshotStore::new()))
            .snapshot_every(every);
    }
    if cache {
        builder = builder.cache_states(10_000);
    }
    builder.build()
}

/// What the correlation index costs a command that carries a correlation
/// id: one aggregate with the state cache, one event per command, the index
/// on (the default) and off, side by side.
fn correlation_index(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("correlation_index");
    group.throughput(Throughput::Elements(1));
    for (on, label) in [(true, "on"), (false, "off")] {
        let coordinator = AggregateCoordinator::builder(
            Arc::new(MemoryEventStore::new()),
            Arc::new(MemoryBus::new()),
        )
        .handler("counter", Arc::new(counter()))
        .cache_states(10_000)
        .correlation_index(on)
        .build();
        let root = uuid::Uuid::new_v4();
        group.bench_function(BenchmarkId::new("one_aggregate/state_cache", label), |b| {
            b.iter(|| rt.block_on(coordinator.handle(add(root, 1))).unwrap())
        });
    }
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(1));
    for events in [1u32, 10] {
        for (cache, label) in [(false, "no_cache"), (true, "state_cache")] {
            let one = coordinator(Some(100), cache);
            let root = uuid::Uuid::new_v4();
            group.bench_function(
                BenchmarkId::new(format!("one_aggregate/{label}"), format!("{events}_events")),
                |b| b.iter(|| rt.block_on(one.handle(add(root, events))).unwrap()),
            );

            let many = coordinator(None, cache);
            let roots: Vec<_> = (0..10_000).map(|_| uuid::Uuid::new_v4()).collect();
            let mut next = 0;
            group.bench_function(
                BenchmarkId::new(
                    format!("10k_aggregates/{label}"),
                    format!("{events}_events"),
                ),
                |b| {
                    b.iter(|| {
                        next = (next + 1) % roots.len();
                        rt.block_on(many.handle(add(roots[next], events))).unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

/// An event store in which every aggregate starts with the same base history
/// of N events (shared, not copied), followed by its own appends.
#[derive(Debug)]
struct FixedHistory {
    base: Arc<Vec<EventPage>>,
    appended: Mutex<HashMap<AggregateKey, Vec<EventPage>>>,
}

impl FixedHistory {
    fn new(length: u32) -> Self {
        let key = AggregateKey::new("counter", uuid::Uuid::nil()).unwrap();
        let pages: Vec<EventPage> = (0..length)
            .map(|_| EventPage {
                payload: Some(Payload::Event(event(&Added { by: 1 }))),
                ..Default::default()
            })
            .collect();
        let limits = StoreLimits {
            max_events_per_append: usize::MAX,
            max_event_bytes: usize::MAX,
        };
        Self {
            base: Arc::new(prepare_append(&key, 0, pages, limits).unwrap()),
            appended: Mutex::default(),
        }
    }
}

#[async_trait]
impl EventStore for FixedHistory {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        let pages = prepare_append(key, expected, pages, self.limits())?;
        let mut appended = self.appended.lock().unwrap();
        let mine = appended.entry(key.clone()).or_default();
        let actual = (self.base.len() + mine.len()) as u32;
        if actual != expected {
            return Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual,
            });
        }
        mine.extend(pages);
        Ok((self.base.len() + mine.len()) as u32)
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        let appended = self.appended.lock().unwrap();
        let mine = appended.get(key).map(Vec::as_slice).unwrap_or_default();
        let all = self.base.iter().chain(mine);
        let to = range.to.map_or(usize::MAX, |t| t as usize);
        Ok(all
            .skip(range.from as usize)
            .take(to.saturating_sub(range.from as usize))
            .cloned()
            .collect())
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        let appended = self.appended.lock().unwrap();
        Ok((self.base.len() + appended.get(key).map_or(0, Vec::len)) as u32)
    }

    fn aggregate_roots<'a>(&'a self, _: Option<&'a str>) -> BoxStream<'a, Result<AggregateKey>> {
        stream::empty().boxed()
    }

    fn limits(&self) -> StoreLimits {
        MemoryEventStore::DEFAULT_LIMITS
    }

    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        Err(Error::invalid_argument(format!(
            "the benchmark's fixed history of {key} is not deleted"
        )))
    }
}

/// A snapshot store answering the base history's snapshot for every aggregate.
#[derive(Debug)]
struct FixedSnapshot(Snapshot);

#[async_trait]
impl SnapshotStore for FixedSnapshot {
    async fn get(&self, _: &AggregateKey) -> Result<Option<Snapshot>> {
        Ok(Some(self.0.clone()))
    }
    async fn put(&self, _: &AggregateKey, _: Snapshot) -> Result<()> {
        Ok(())
    }
    async fn delete(&self, _: &AggregateKey) -> Result<()> {
        Ok(())
    }
}

fn latency(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("latency");
    group.sample_size(30);
    for history in [100u32, 100_000] {
        let store = Arc::new(FixedHistory::new(history));
        let plain = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
            .handler("counter", Arc::new(counter()))
            .build();
        group.bench_function(BenchmarkId::new("no_snapshot", history), |b| {
            b.iter(|| {
                rt.block_on(plain.handle(add(uuid::Uuid::new_v4(), 1)))
                    .unwrap()
            })
        });

        let state = rt
            .block_on(counter().replay(ReplayRequest {
                base_snapshot: None,
                events: store.base.to_vec(),
            }))
            .unwrap()
            .state;
        assert_eq!(
            any::unpack::<Counter>(state.as_ref().unwrap())
                .unwrap()
                .total,
            u64::from(history)
        );
        let snapshot = Snapshot {
            sequence: history - 1,
            state,
            retention: 0,
        };
        let with_snapshot =
            AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
                .handler("counter", Arc::new(counter()))
                .snapshots(Arc::new(FixedSnapshot(snapshot)))
                .build();
        group.bench_function(BenchmarkId::new("snapshot", history), |b| {
            b.iter(|| {
                rt.block_on(with_snapshot.handle(add(uuid::Uuid::new_v4(), 1)))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput, correlation_index, latency);
criterion_main!(benches);
