//! The pipeline against hand-written handlers: what a misbehaving or
//! polyglot handler may answer, upcasting, and event queries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use angzarr_core::memory::{MemoryBus, MemoryEventStore};
use angzarr_core::proto::business_response::Result as Business;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::query::Selection;
use angzarr_core::proto::temporal_query::PointInTime;
use angzarr_core::proto::{
    BusinessResponse, CommandRequest, ContextualCommand, Cover, DomainDivergence, Edition,
    EventBook, EventPage, Query, ReplayRequest, ReplayResponse, RevocationResponse, SequenceRange,
    SequenceSet, TemporalQuery, UpcastRequest, UpcastResponse,
};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, EventStore, EventStoreExt, SnapshotStore, any};
use angzarr_runtime::authoring::command;
use angzarr_runtime::{AggregateCoordinator, CommandHandler, EventQueries, Upcaster};
use async_trait::async_trait;
use prost_types::{Duration as ProtoDuration, Timestamp};

/// Answers every command with a fixed response; records the history it saw.
#[derive(Debug)]
struct Scripted {
    answer: BusinessResponse,
    seen: Mutex<Vec<EventBook>>,
}

impl Scripted {
    fn new(answer: BusinessResponse) -> Arc<Self> {
        Arc::new(Self {
            answer,
            seen: Mutex::default(),
        })
    }
}

#[async_trait]
impl CommandHandler for Scripted {
    async fn handle(&self, command: ContextualCommand) -> angzarr_core::Result<BusinessResponse> {
        self.seen
            .lock()
            .unwrap()
            .push(command.events.unwrap_or_default());
        Ok(self.answer.clone())
    }
    async fn replay(&self, _: ReplayRequest) -> angzarr_core::Result<ReplayResponse> {
        Ok(ReplayResponse::default())
    }
}

fn events(cover: Option<Cover>, pages: Vec<EventPage>) -> BusinessResponse {
    BusinessResponse {
        result: Some(Business::Events(EventBook {
            cover,
            snapshot: None,
            pages,
            next_sequence: 0,
        })),
    }
}

fn page(seconds: i64) -> EventPage {
    EventPage {
        header: None,
        created_at: None,
        payload: Some(Payload::Event(any::pack(&Timestamp { seconds, nanos: 0 }))),
        ..Default::default()
    }
}

fn setup(
    handler: Arc<dyn CommandHandler>,
) -> (AggregateCoordinator, Arc<MemoryEventStore>, AggregateKey) {
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler)
        .build();
    (
        coordinator,
        store,
        AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap(),
    )
}

fn tick(key: &AggregateKey) -> CommandRequest {
    CommandRequest {
        command: Some(command(
            &key.domain,
            key.root,
            "c",
            &ProtoDuration {
                seconds: 1,
                nanos: 0,
            },
        )),
        ..Default::default()
    }
}

#[tokio::test]
async fn pages_without_cover_and_with_any_numbering_are_stamped() {
    // Numbered as a client library would, from the count of prior pages (wrong here on purpose).
    let mut numbered = vec![page(1), page(2)];
    for (i, p) in numbered.iter_mut().enumerate() {
        p.header = Some(angzarr_core::proto::PageHeader {
            sequence_type: Some(angzarr_core::proto::page_header::SequenceType::Sequence(
                40 + i as u32,
            )),
        });
    }
    let (coordinator, store, key) = setup(Scripted::new(events(None, numbered)));
    coordinator.handle(tick(&key)).await.unwrap();
    let response = coordinator.handle(tick(&key)).await.unwrap();
    let book = response.events.unwrap();
    assert_eq!(
        AggregateKey::from_book(&book).unwrap(),
        key,
        "cover stamped"
    );
    assert_eq!(
        book.pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(book.next_sequence, 4);
    assert_eq!(store.next_sequence(&key).await.unwrap(), 4);
}

#[tokio::test]
async fn events_for_another_aggregate_are_rejected_and_nothing_is_appended() {
    let other = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let (coordinator, store, key) =
        setup(Scripted::new(events(Some(other.cover("c")), vec![page(1)])));
    let err = coordinator.handle(tick(&key)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { reason } if reason.contains("another aggregate")),
        "{err}"
    );
    assert!(store.load_all(&key).await.unwrap().is_empty());
    assert!(store.load_all(&other).await.unwrap().is_empty());

    let other_domain = Cover {
        domain: "calendar".into(),
        ..key.cover("c")
    };
    let (coordinator, store, key) = setup(Scripted::new(events(Some(other_domain), vec![page(1)])));
    assert!(coordinator.handle(tick(&key)).await.is_err());
    assert!(store.load_all(&key).await.unwrap().is_empty());
}

fn in_edition(mut request: CommandRequest, edition: &Edition) -> CommandRequest {
    if let Some(cover) = request
        .command
        .as_mut()
        .and_then(|command| command.cover.as_mut())
    {
        cover.edition = Some(edition.clone());
    }
    request
}

fn edition_query(key: &AggregateKey, edition: &Edition) -> Query {
    Query {
        cover: Some(Cover {
            edition: Some(edition.clone()),
            ..key.cover("")
        }),
        selection: None,
    }
}

#[tokio::test]
async fn commands_and_queries_on_an_edition_branch_off_main_and_leave_it_untouched() {
    let handler = Scripted::new(events(None, vec![page(1)]));
    let (coordinator, store, key) = setup(handler.clone());
    for _ in 0..3 {
        coordinator.handle(tick(&key)).await.unwrap();
    }
    let what_if = Edition {
        name: "what-if".into(),
        divergences: Vec::new(),
    };

    let response = coordinator
        .handle(in_edition(tick(&key), &what_if))
        .await
        .unwrap();
    let book = response.events.unwrap();
    assert_eq!(book.next_sequence, 4);
    let answered = AggregateKey::from_book(&book).unwrap();
    assert_eq!(
        answered.edition(),
        "what-if",
        "the answer names the edition"
    );
    assert_eq!(
        handler.seen.lock().unwrap().last().unwrap().pages.len(),
        3,
        "the handler saw the main history up to the divergence"
    );
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        3,
        "main untouched"
    );
    coordinator.handle(tick(&key)).await.unwrap();

    let queries = EventQueries::new(store.clone());
    let branch = queries
        .get_event_book(edition_query(&key, &what_if))
        .await
        .unwrap();
    assert_eq!(branch.pages.len(), 4);
    assert_eq!(branch.next_sequence, 4);
    let main = queries.get_event_book(Query {
        cover: Some(key.cover("")),
        selection: None,
    });
    assert_eq!(main.await.unwrap().next_sequence, 4);

    // The published libraries name the main timeline `angzarr`.
    let library_main = Edition {
        name: angzarr_core::ids::MAIN_EDITION.into(),
        divergences: Vec::new(),
    };
    coordinator
        .handle(in_edition(tick(&key), &library_main))
        .await
        .unwrap();
    assert_eq!(store.load_all(&key).await.unwrap().len(), 5);
}

#[tokio::test]
async fn an_edition_diverges_where_the_command_says_and_bad_divergences_are_refused() {
    let handler = Scripted::new(events(None, vec![page(1)]));
    let (coordinator, store, key) = setup(handler.clone());
    for _ in 0..4 {
        coordinator.handle(tick(&key)).await.unwrap();
    }
    let divergence = |domain: &str, sequence| DomainDivergence {
        domain: domain.into(),
        sequence,
    };
    let early = Edition {
        name: "early".into(),
        divergences: vec![divergence("clock", 1)],
    };
    let book = coordinator
        .handle(in_edition(tick(&key), &early))
        .await
        .unwrap()
        .events
        .unwrap();
    assert_eq!(book.next_sequence, 2, "diverged after the first event");
    assert_eq!(handler.seen.lock().unwrap().last().unwrap().pages.len(), 1);
    let seen = handler.seen.lock().unwrap().len();

    for bad in [
        Edition {
            name: "early".into(),
            divergences: vec![divergence("calendar", 1)],
        },
        Edition {
            name: "late".into(),
            divergences: vec![divergence("clock", 9)],
        },
        Edition {
            name: "early".into(),
            divergences: vec![divergence("clock", 3)],
        },
        Edition {
            name: " ".into(),
            divergences: Vec::new(),
        },
    ] {
        let err = coordinator
            .handle(in_edition(tick(&key), &bad))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            angzarr_core::ErrorCode::InvalidArgument,
            "{err}"
        );
        assert_eq!(
            tonic::Status::from(err).code(),
            tonic::Code::InvalidArgument
        );
    }
    assert_eq!(
        handler.seen.lock().unwrap().len(),
        seen,
        "the handler never ran"
    );
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        4,
        "main untouched"
    );
    let late = key.clone().in_edition("late").unwrap();
    assert!(
        store.load_all(&late).await.unwrap().is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_malformed_event_payload_is_rejected_and_nothing_is_appended() {
    let mut empty_type = page(1);
    empty_type.payload = Some(Payload::Event(prost_types::Any {
        type_url: String::new(),
        value: vec![1],
    }));
    let no_payload = EventPage::default();
    for bad in [empty_type, no_payload] {
        let (coordinator, store, key) = setup(Scripted::new(events(None, vec![page(1), bad])));
        let err = coordinator.handle(tick(&key)).await.unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        assert!(store.load_all(&key).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_revocation_is_a_rejection_with_its_reason() {
    let revocation = BusinessResponse {
        result: Some(Business::Revocation(RevocationResponse {
            reason: "clock is frozen".into(),
            ..Default::default()
        })),
    };
    let (coordinator, store, key) = setup(Scripted::new(revocation));
    let err = coordinator.handle(tick(&key)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { reason } if reason == "clock is frozen"),
        "{err}"
    );
    assert!(store.load_all(&key).await.unwrap().is_empty());
}

/// Rewrites stored `Timestamp` events into `Duration`s, as a schema change would.
#[derive(Debug)]
struct TimestampsToDurations;

#[async_trait]
impl Upcaster for TimestampsToDurations {
    async fn upcast(&self, request: UpcastRequest) -> angzarr_core::Result<UpcastResponse> {
        let events = request
            .events
            .into_iter()
            .map(|mut page| {
                if let Some(Payload::Event(event)) = &page.payload
                    && let Ok(old) = any::unpack::<Timestamp>(event)
                {
                    page.payload = Some(Payload::Event(any::pack(&ProtoDuration {
                        seconds: old.seconds,
                        nanos: 0,
                    })));
                }
                page
            })
            .collect();
        Ok(UpcastResponse { events })
    }
}

#[tokio::test]
async fn handlers_see_upcast_history() {
    let handler = Scripted::new(events(None, vec![page(7)]));
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .upcaster(Arc::new(TimestampsToDurations))
        .build();
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    coordinator.handle(tick(&key)).await.unwrap();
    coordinator.handle(tick(&key)).await.unwrap();
    let seen = handler.seen.lock().unwrap().clone();
    let history = &seen[1].pages;
    assert_eq!(history.len(), 1);
    let Some(Payload::Event(event)) = &history[0].payload else {
        panic!("no event")
    };
    assert!(
        any::is::<ProtoDuration>(event),
        "the handler saw the upcast event"
    );
    // The store keeps what was written.
    let Some(Payload::Event(stored)) = &store.load_all(&key).await.unwrap()[0].payload else {
        panic!()
    };
    assert!(any::is::<Timestamp>(stored));
}

#[tokio::test]
async fn queries_select_by_range_set_and_point_in_time() {
    let store = Arc::new(MemoryEventStore::new());
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let mut pages: Vec<EventPage> = (0..10).map(page).collect();
    for (i, p) in pages.iter_mut().enumerate() {
        p.created_at = Some(Timestamp {
            seconds: 1_000 + i as i64,
            nanos: 0,
        });
    }
    store.append(&key, 0, pages).await.unwrap();
    let queries = EventQueries::new(store);
    let select = |selection| Query {
        cover: Some(key.cover("")),
        selection: Some(selection),
    };
    let sequences = |book: EventBook| {
        book.pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>()
    };

    let range = queries
        .get_event_book(select(Selection::Range(SequenceRange {
            lower: 2,
            upper: Some(4),
        })))
        .await
        .unwrap();
    assert_eq!(range.next_sequence, 10);
    assert_eq!(sequences(range), [2, 3, 4], "ranges include both bounds");
    let open = queries
        .get_event_book(select(Selection::Range(SequenceRange {
            lower: 8,
            upper: None,
        })))
        .await
        .unwrap();
    assert_eq!(sequences(open), [8, 9]);
    let set = queries
        .get_event_book(select(Selection::Sequences(SequenceSet {
            values: vec![7, 1, 42],
        })))
        .await
        .unwrap();
    assert_eq!(sequences(set), [1, 7]);
    let as_of = queries
        .get_event_book(select(Selection::Temporal(TemporalQuery {
            point_in_time: Some(PointInTime::AsOfSequence(3)),
        })))
        .await
        .unwrap();
    assert_eq!(sequences(as_of), [0, 1, 2, 3]);
    let as_of_time = queries
        .get_event_book(select(Selection::Temporal(TemporalQuery {
            point_in_time: Some(PointInTime::AsOfTime(Timestamp {
                seconds: 1_004,
                nanos: 0,
            })),
        })))
        .await
        .unwrap();
    assert_eq!(sequences(as_of_time), [0, 1, 2, 3, 4]);
    let err = queries
        .get_event_book(Query {
            cover: None,
            selection: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), angzarr_core::ErrorCode::InvalidArgument);

    use futures::StreamExt;
    let roots: Vec<_> = queries.aggregate_roots(Some("clock")).collect().await;
    assert_eq!(roots.len(), 1);
}

/// Counts the events every `load` returns.
#[derive(Debug, Default)]
struct CountingLoads {
    inner: MemoryEventStore,
    loaded: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl EventStore for CountingLoads {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> angzarr_core::Result<u32> {
        self.inner.append(key, expected, pages).await
    }
    async fn load(
        &self,
        key: &AggregateKey,
        range: angzarr_core::LoadRange,
    ) -> angzarr_core::Result<Vec<EventPage>> {
        let pages = self.inner.load(key, range).await?;
        self.loaded
            .fetch_add(pages.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(pages)
    }
    async fn next_sequence(&self, key: &AggregateKey) -> angzarr_core::Result<u32> {
        self.inner.next_sequence(key).await
    }
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> futures::stream::BoxStream<'a, angzarr_core::Result<AggregateKey>> {
        self.inner.aggregate_roots(domain)
    }
    fn limits(&self) -> angzarr_core::StoreLimits {
        self.inner.limits()
    }

    async fn delete(&self, key: &AggregateKey) -> angzarr_core::Result<u32> {
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn set_and_time_queries_load_only_what_they_select() {
    let store = Arc::new(CountingLoads::default());
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    for batch in 0..20 {
        let pages: Vec<EventPage> = (0..100)
            .map(|i| {
                let mut p = page(1_000 + batch * 100 + i);
                p.created_at = Some(Timestamp {
                    seconds: 1_000 + batch * 100 + i,
                    nanos: 0,
                });
                p
            })
            .collect();
        store
            .append(&key, (batch * 100) as u32, pages)
            .await
            .unwrap();
    }
    let queries = EventQueries::new(store.clone());
    let loaded = |selection| {
        let queries = queries.clone();
        let store = store.clone();
        let cover = key.cover("");
        async move {
            store.loaded.store(0, std::sync::atomic::Ordering::SeqCst);
            let book = queries
                .get_event_book(Query {
                    cover: Some(cover),
                    selection: Some(selection),
                })
                .await
                .unwrap();
            let sequences: Vec<u32> = book.pages.iter().filter_map(page_sequence).collect();
            (
                sequences,
                store.loaded.load(std::sync::atomic::Ordering::SeqCst),
            )
        }
    };

    let (sequences, count) = loaded(Selection::Sequences(SequenceSet {
        values: vec![1_999, 3, 1_000, 4, 5_000],
    }))
    .await;
    assert_eq!(sequences, [3, 4, 1_000, 1_999]);
    assert!(
        count <= 5,
        "a far-apart set loads what it names, not 3..=1999: {count}"
    );

    let (sequences, count) = loaded(Selection::Temporal(TemporalQuery {
        point_in_time: Some(PointInTime::AsOfTime(Timestamp {
            seconds: 1_010,
            nanos: 0,
        })),
    }))
    .await;
    assert_eq!(sequences, (0..=10).collect::<Vec<_>>());
    assert!(
        count <= 256,
        "as of a time stops at the time, not the 2,000 events: {count}"
    );
}

fn fact(external_id: &str, seconds: i64) -> EventPage {
    EventPage {
        header: Some(angzarr_core::proto::PageHeader {
            sequence_type: Some(
                angzarr_core::proto::page_header::SequenceType::ExternalDeferred(
                    angzarr_core::proto::ExternalDeferredSequence {
                        external_id: external_id.into(),
                        description: String::new(),
                    },
                ),
            ),
        }),
        ..page(seconds)
    }
}

fn fact_request(key: &AggregateKey, pages: Vec<EventPage>) -> angzarr_core::proto::EventRequest {
    angzarr_core::proto::EventRequest {
        events: Some(EventBook {
            cover: Some(key.cover("corr-fact")),
            pages,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_fact_is_appended_after_the_end_once_and_bad_facts_append_nothing() {
    let handler = Scripted::new(events(None, vec![page(1)]));
    let (coordinator, store, key) = setup(handler.clone());
    coordinator.handle(tick(&key)).await.unwrap();

    let first = coordinator
        .inject(fact_request(&key, vec![fact("payment-7", 70)]))
        .await
        .unwrap();
    assert!(!first.already_processed);
    let book = first.events.unwrap();
    assert_eq!(
        book.pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(book.next_sequence, 2);
    assert_eq!(
        handler.seen.lock().unwrap().len(),
        1,
        "not routed to the handler"
    );

    let repeat = coordinator
        .inject(fact_request(&key, vec![fact("payment-7", 70)]))
        .await
        .unwrap();
    assert!(repeat.already_processed);
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        2,
        "appended once"
    );

    let numbered = {
        let mut page = page(5);
        page.header = Some(angzarr_core::proto::PageHeader {
            sequence_type: Some(angzarr_core::proto::page_header::SequenceType::Sequence(2)),
        });
        page
    };
    for bad in [
        fact_request(&key, vec![numbered]),
        fact_request(&key, vec![page(5)]),
        fact_request(&key, vec![fact("", 5)]),
        fact_request(&key, Vec::new()),
        angzarr_core::proto::EventRequest::default(),
    ] {
        let err = coordinator.inject(bad).await.unwrap_err();
        assert_eq!(
            err.code(),
            angzarr_core::ErrorCode::InvalidArgument,
            "{err}"
        );
    }
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        2,
        "nothing appended"
    );

    // Routed to the handler: what it answers is appended.
    let routed = coordinator
        .inject(angzarr_core::proto::EventRequest {
            route_to_handler: true,
            ..fact_request(&key, vec![fact("payment-8", 80)])
        })
        .await
        .unwrap();
    assert_eq!(routed.events.unwrap().next_sequence, 3);
    assert_eq!(
        handler.seen.lock().unwrap().len(),
        2,
        "the handler saw the fact"
    );
}

#[tokio::test]
async fn a_speculative_command_runs_as_of_a_point_and_persists_nothing() {
    let handler = Scripted::new(events(None, vec![page(1)]));
    let (coordinator, store, key) = setup(handler.clone());
    for _ in 0..3 {
        coordinator.handle(tick(&key)).await.unwrap();
    }
    let response = coordinator
        .speculate(angzarr_core::proto::SpeculateCommandHandlerRequest {
            command: tick(&key).command,
            point_in_time: Some(TemporalQuery {
                point_in_time: Some(PointInTime::AsOfSequence(0)),
            }),
        })
        .await
        .unwrap();
    let book = response.events.unwrap();
    assert_eq!(
        book.pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(handler.seen.lock().unwrap().last().unwrap().pages.len(), 1);
    let now = coordinator
        .speculate(angzarr_core::proto::SpeculateCommandHandlerRequest {
            command: tick(&key).command,
            point_in_time: None,
        })
        .await
        .unwrap();
    assert_eq!(now.events.unwrap().next_sequence, 4);
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        3,
        "nothing persisted"
    );
}

fn correlated(key: &AggregateKey, correlation_id: &str) -> CommandRequest {
    let mut request = tick(key);
    let cover = request.command.as_mut().unwrap().cover.as_mut().unwrap();
    cover.correlation_id = correlation_id.to_owned();
    request
}

fn by_correlation(domain: &str, correlation_id: &str) -> Query {
    Query {
        cover: Some(Cover {
            domain: domain.to_owned(),
            correlation_id: correlation_id.to_owned(),
            ..Default::default()
        }),
        selection: None,
    }
}

#[tokio::test]
async fn a_query_by_correlation_id_finds_the_events_of_every_aggregate_written_under_it() {
    let store = Arc::new(MemoryEventStore::new());
    let handler = Scripted::new(events(None, vec![page(1)]));
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .handler("alarm", handler)
        .build();
    let clock = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let alarm = AggregateKey::new("alarm", uuid::Uuid::new_v4()).unwrap();
    coordinator
        .handle(correlated(&clock, "other"))
        .await
        .unwrap();
    coordinator
        .handle(correlated(&clock, "flow"))
        .await
        .unwrap();
    coordinator
        .handle(correlated(&alarm, "flow"))
        .await
        .unwrap();
    coordinator
        .handle(correlated(&clock, "flow"))
        .await
        .unwrap();
    let queries = EventQueries::new(store);

    let books = queries
        .get_event_books(by_correlation("", "flow"))
        .await
        .unwrap();
    let found: Vec<(String, Vec<u32>)> = books
        .iter()
        .map(|b| {
            let key = AggregateKey::from_book(b).unwrap();
            assert_eq!(b.cover.as_ref().unwrap().correlation_id, "flow");
            (
                key.domain,
                b.pages.iter().filter_map(page_sequence).collect(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("alarm".to_owned(), vec![0]),
            ("clock".to_owned(), vec![1, 2])
        ],
        "only the events written under the id, every domain"
    );

    let clock_only = queries
        .get_event_books(by_correlation("clock", "flow"))
        .await
        .unwrap();
    assert_eq!(clock_only.len(), 1);
    assert_eq!(clock_only[0].next_sequence, 3);
    let one = queries
        .get_event_book(by_correlation("alarm", "flow"))
        .await
        .unwrap();
    assert_eq!(AggregateKey::from_book(&one).unwrap(), alarm);
    let none = queries
        .get_event_book(by_correlation("alarm", "nothing"))
        .await
        .unwrap();
    assert!(none.pages.is_empty());

    // The selection applies to each book by sequence.
    let mut ranged = by_correlation("clock", "flow");
    ranged.selection = Some(Selection::Range(angzarr_core::proto::SequenceRange {
        lower: 2,
        upper: None,
    }));
    let ranged = queries.get_event_books(ranged).await.unwrap();
    assert_eq!(
        ranged[0]
            .pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>(),
        [2]
    );
}

/// A handler that says whether it folds snapshots (the published client
/// libraries' class-based aggregates fold the pages only); its `Replay`
/// answers a state, so the runtime could cache it.
#[derive(Debug)]
struct PagesOnly {
    inner: Arc<Scripted>,
    reads_snapshots: bool,
    replays: Mutex<u32>,
}

#[async_trait]
impl CommandHandler for PagesOnly {
    async fn handle(&self, command: ContextualCommand) -> angzarr_core::Result<BusinessResponse> {
        self.inner.handle(command).await
    }
    async fn replay(&self, _: ReplayRequest) -> angzarr_core::Result<ReplayResponse> {
        *self.replays.lock().unwrap() += 1;
        Ok(ReplayResponse {
            state: Some(any::pack(&ProtoDuration::default())),
        })
    }
    fn reads_snapshots(&self) -> bool {
        self.reads_snapshots
    }
}

/// What each of five commands was given, with the state cache on and a
/// snapshot every two events: (snapshot's sequence, first page, pages).
async fn histories_given(reads_snapshots: bool) -> (Vec<(Option<u32>, Option<u32>, usize)>, u32) {
    let handler = Arc::new(PagesOnly {
        inner: Scripted::new(events(None, vec![page(1)])),
        reads_snapshots,
        replays: Mutex::default(),
    });
    let store = Arc::new(MemoryEventStore::new());
    let coordinator = AggregateCoordinator::builder(store, Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .snapshots(Arc::new(angzarr_core::memory::MemorySnapshotStore::new()))
        .snapshot_every(2)
        .cache_states(16)
        .build();
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    for _ in 0..5 {
        coordinator.handle(tick(&key)).await.unwrap();
    }
    let seen = handler.inner.seen.lock().unwrap().clone();
    let given = seen
        .iter()
        .map(|book| {
            (
                book.snapshot.as_ref().map(|s| s.sequence),
                book.pages.first().and_then(page_sequence),
                book.pages.len(),
            )
        })
        .collect();
    let replays = *handler.replays.lock().unwrap();
    (given, replays)
}

#[tokio::test]
async fn a_handler_that_does_not_read_snapshots_gets_the_whole_history_every_time() {
    let (given, replays) = histories_given(false).await;
    assert_eq!(
        given,
        [
            (None, None, 0),
            (None, Some(0), 1),
            (None, Some(0), 2),
            (None, Some(0), 3),
            (None, Some(0), 4)
        ]
    );
    assert_eq!(replays, 0, "no state is folded for a cache or a snapshot");

    // One that reads them starts from the cached state.
    let (given, replays) = histories_given(true).await;
    assert_eq!(given[4], (Some(3), None, 0), "{given:?}");
    assert!(replays > 0);
}

fn delete_edition(domain: &str, edition: &str) -> CommandRequest {
    CommandRequest {
        command: Some(angzarr_core::proto::CommandBook {
            cover: Some(Cover {
                domain: angzarr_core::ids::META_DOMAIN.into(),
                ..Default::default()
            }),
            pages: vec![angzarr_core::proto::CommandPage {
                payload: Some(angzarr_core::proto::command_page::Payload::Command(
                    any::pack(&angzarr_core::proto::DeleteEditionEvents {
                        edition: edition.into(),
                        domain: domain.into(),
                    }),
                )),
                ..Default::default()
            }],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn deleting_an_edition_drops_its_events_and_state_and_answers_the_count() {
    let handler = Arc::new(PagesOnly {
        inner: Scripted::new(events(None, vec![page(1)])),
        reads_snapshots: true,
        replays: Mutex::default(),
    });
    let store = Arc::new(MemoryEventStore::new());
    let snapshots = Arc::new(angzarr_core::memory::MemorySnapshotStore::new());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .snapshots(snapshots.clone())
        .snapshot_every(2)
        .cache_states(16)
        .build();
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    coordinator.handle(tick(&key)).await.unwrap();
    let gone = Edition {
        name: "gone".into(),
        divergences: Vec::new(),
    };
    for _ in 0..3 {
        coordinator
            .handle(in_edition(tick(&key), &gone))
            .await
            .unwrap();
    }
    let edition_key = key.clone().in_edition("gone").unwrap();
    assert!(snapshots.get(&edition_key).await.unwrap().is_some());

    // Another instance deletes it: this one's state cache never held it.
    let other = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .snapshots(snapshots.clone())
        .build();
    let answer = other.handle(delete_edition("clock", "gone")).await.unwrap();
    let book = answer.events.unwrap();
    let deleted: angzarr_core::proto::EditionEventsDeleted = match &book.pages[0].payload {
        Some(Payload::Event(body)) => any::unpack(body).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            deleted.edition.as_str(),
            deleted.domain.as_str(),
            deleted.deleted_count
        ),
        ("gone", "clock", 3)
    );
    assert!(deleted.deleted_at.ends_with('Z'), "{}", deleted.deleted_at);
    assert!(store.load_all(&edition_key).await.unwrap().is_empty());
    assert!(snapshots.get(&edition_key).await.unwrap().is_none());
    assert_eq!(
        store.load_all(&key).await.unwrap().len(),
        1,
        "main untouched"
    );

    // Written anew (past where the deleted one ended), the edition is
    // decided on its new history, not on a snapshot or cached state of the
    // deleted one.
    for _ in 0..4 {
        other.handle(in_edition(tick(&key), &gone)).await.unwrap();
    }
    coordinator
        .handle(in_edition(tick(&key), &gone))
        .await
        .unwrap();
    let given = handler.inner.seen.lock().unwrap().last().cloned().unwrap();
    assert!(given.snapshot.is_none(), "{given:?}");
    assert_eq!(given.pages.len(), 5, "main's one event and the new four");

    for (request, why) in [
        (delete_edition("clock", ""), "the main timeline"),
        (delete_edition("clock", "angzarr"), "the main timeline"),
        (delete_edition("sundial", "gone"), "a domain not hosted"),
        (tick(&key), "a command of another type"),
    ] {
        let mut request = request;
        if why == "a command of another type" {
            request
                .command
                .as_mut()
                .unwrap()
                .cover
                .as_mut()
                .unwrap()
                .domain = angzarr_core::ids::META_DOMAIN.into();
        }
        let refused = coordinator.handle(request).await.unwrap_err();
        assert_eq!(
            refused.code(),
            angzarr_core::ErrorCode::InvalidArgument,
            "{why}: {refused}"
        );
    }
    assert_eq!(store.load_all(&key).await.unwrap().len(), 1);
}

/// A store whose loads leave out sequences 10 and 11 (as a read seeing a
/// concurrent batch in part would) for the first `gapped` loads.
#[derive(Debug)]
struct Gapped {
    inner: MemoryEventStore,
    gapped: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl EventStore for Gapped {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> angzarr_core::Result<u32> {
        self.inner.append(key, expected, pages).await
    }
    async fn load(
        &self,
        key: &AggregateKey,
        range: angzarr_core::LoadRange,
    ) -> angzarr_core::Result<Vec<EventPage>> {
        let mut pages = self.inner.load(key, range).await?;
        let gap = self
            .gapped
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok();
        if gap {
            pages.retain(|p| !matches!(page_sequence(p), Some(10 | 11)));
        }
        Ok(pages)
    }
    async fn next_sequence(&self, key: &AggregateKey) -> angzarr_core::Result<u32> {
        self.inner.next_sequence(key).await
    }
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> futures::stream::BoxStream<'a, angzarr_core::Result<AggregateKey>> {
        self.inner.aggregate_roots(domain)
    }
    fn limits(&self) -> angzarr_core::StoreLimits {
        self.inner.limits()
    }
    async fn delete(&self, key: &AggregateKey) -> angzarr_core::Result<u32> {
        self.inner.delete(key).await
    }
}

/// A coordinator over a store holding 16 events of one aggregate, whose
/// next `gapped` loads answer `[0..10, 12..16]`.
async fn over_a_gap(
    gapped: usize,
) -> (
    AggregateCoordinator,
    Arc<Scripted>,
    Arc<Gapped>,
    AggregateKey,
) {
    let store = Arc::new(Gapped {
        inner: MemoryEventStore::new(),
        gapped: std::sync::atomic::AtomicUsize::new(0),
    });
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let history = (0..16).map(|i| page(i64::from(i) + 1)).collect();
    store.inner.append(&key, 0, history).await.unwrap();
    store
        .gapped
        .store(gapped, std::sync::atomic::Ordering::SeqCst);
    let handler = Scripted::new(events(None, vec![page(100)]));
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler("clock", handler.clone())
        .build();
    (coordinator, handler, store, key)
}

#[tokio::test]
async fn a_gapped_read_is_read_again_and_never_decided_on() {
    // Seen once: read again, and decided on the whole history.
    let (coordinator, handler, store, key) = over_a_gap(1).await;
    let answer = coordinator.handle(tick(&key)).await.unwrap();
    assert_eq!(answer.events.unwrap().next_sequence, 17);
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one decision");
    assert_eq!(
        seen[0]
            .pages
            .iter()
            .filter_map(page_sequence)
            .collect::<Vec<_>>(),
        (0..16).collect::<Vec<_>>()
    );

    // A gap that stays: a retriable failure, no decision, nothing appended.
    let (coordinator, handler, store2, key2) = over_a_gap(usize::MAX).await;
    let failed = coordinator.handle(tick(&key2)).await.unwrap_err();
    assert!(failed.is_retriable(), "{failed}");
    assert!(failed.to_string().contains("lacks sequence 10"), "{failed}");
    assert!(
        handler.seen.lock().unwrap().is_empty(),
        "no decision on a gap"
    );
    assert_eq!(store2.inner.next_sequence(&key2).await.unwrap(), 16);
    assert_eq!(store.inner.next_sequence(&key).await.unwrap(), 17);
}

/// A bus that says it offloads large books, as SQS, Kinesis and Pub/Sub do
/// with a payload store.
#[derive(Debug)]
struct Offloading(MemoryBus);

#[async_trait]
impl angzarr_core::EventBus for Offloading {
    async fn publish(&self, _: &EventBook) -> angzarr_core::Result<()> {
        // Accepted, as an offloading bus would (the memory bus would refuse).
        Ok(())
    }
    fn max_message_bytes(&self) -> usize {
        self.0.max_message_bytes()
    }
    fn offloads(&self) -> bool {
        true
    }
}

fn big_page(bytes: usize) -> EventPage {
    EventPage {
        payload: Some(Payload::Event(prost_types::Any {
            type_url: "type.googleapis.com/test.Big".into(),
            value: vec![7; bytes],
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_book_the_bus_cannot_carry_is_refused_before_it_is_stored() {
    // A 2 KiB event on a 1 KiB bus without a payload store.
    let store = Arc::new(MemoryEventStore::new());
    let bus = Arc::new(MemoryBus::with_max_message_bytes(1024));
    let coordinator = AggregateCoordinator::builder(store.clone(), bus)
        .handler("clock", Scripted::new(events(None, vec![big_page(2048)])))
        .build();
    let key = AggregateKey::new("clock", uuid::Uuid::new_v4()).unwrap();
    let refused = coordinator.handle(tick(&key)).await.unwrap_err();
    assert!(
        matches!(refused, Error::LimitExceeded { limit: 1024, .. }),
        "{refused:?}"
    );
    assert!(
        store.load_all(&key).await.unwrap().is_empty(),
        "nothing stored, so nothing is stuck unpublished"
    );
    // A fact of that size: the same.
    let fact_request = fact_request(&key, vec![big_fact("big", 2048)]);
    let refused = coordinator.inject(fact_request).await.unwrap_err();
    assert!(
        matches!(refused, Error::LimitExceeded { .. }),
        "{refused:?}"
    );
    assert!(store.load_all(&key).await.unwrap().is_empty());

    // The same on a bus that offloads: stored and published.
    let bus = Arc::new(Offloading(MemoryBus::with_max_message_bytes(1024)));
    let coordinator = AggregateCoordinator::builder(store.clone(), bus)
        .handler("clock", Scripted::new(events(None, vec![big_page(2048)])))
        .build();
    coordinator.handle(tick(&key)).await.unwrap();
    assert_eq!(store.load_all(&key).await.unwrap().len(), 1);
}

fn big_fact(external_id: &str, bytes: usize) -> EventPage {
    EventPage {
        payload: big_page(bytes).payload,
        ..fact(external_id, 1)
    }
}
