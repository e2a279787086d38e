//! The aggregate command pipeline.
//!
//! For a `CommandRequest`: load the latest snapshot and the events after it →
//! upcast them (optional) → call the domain's command handler with a
//! `ContextualCommand` → check the expected sequence per merge strategy →
//! stamp cover and sequences → append atomically → snapshot (when the handler
//! returns one, or every N events) → publish → answer. With
//! `SYNC_MODE_SIMPLE` the synchronous projectors run before the answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use angzarr_core::bus::check_fits;
use angzarr_core::ids::{META_DOMAIN, divergence_for};
use angzarr_core::memory::MemoryFiringGuard;
use angzarr_core::proto::business_response::Result as Business;
use angzarr_core::proto::command_page::Payload as CommandPayload;
use angzarr_core::proto::event_page::Payload as EventPayload;
use angzarr_core::proto::page_header::SequenceType;
use angzarr_core::proto::{
    CommandBook, CommandPage, CommandRequest, CommandResponse, ContextualCommand, Cover,
    DeleteEditionEvents, EditionEventsDeleted, EventBook, EventPage, EventRequest,
    FactInjectionResponse, MergeStrategy, Projection, Query, ReplayRequest, Snapshot,
    SpeculateCommandHandlerRequest, SyncMode, UpcastRequest,
};
use angzarr_core::store::{page_sequence, prepare_append};
use angzarr_core::{
    AggregateKey, Error, EventBus, EventStore, LoadRange, Result, SnapshotStore, Timelines,
};
use angzarr_core::{Correlations, FiringGuard};
use async_trait::async_trait;
use tracing::{info, warn};

use crate::dispatch::{FiringPolicy, Guarded, ProjectorDispatch, run_once};
use crate::logic::{CommandHandler, Projector, Upcaster};
use crate::query::EventQueries;
use crate::retry::RetryPolicy;
use crate::router::CommandRouter;
use crate::state_cache::StateCache;

/// Runs commands for the domains it has handlers for.
#[derive(Debug)]
pub struct AggregateCoordinator {
    handlers: HashMap<String, Arc<dyn CommandHandler>>,
    upcaster: Option<Arc<dyn Upcaster>>,
    store: Timelines,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    bus: Arc<dyn EventBus>,
    retry: RetryPolicy,
    snapshot_every: Option<u32>,
    sync_projectors: Vec<Arc<dyn Projector>>,
    projector_dispatch: Option<Arc<ProjectorDispatch>>,
    cache: Option<StateCache>,
    /// Makes a repeated fact (same external id or source event) have no
    /// second effect.
    guard: Arc<dyn FiringGuard>,
    policy: FiringPolicy,
    /// Domains whose handler answered `Replay` as unsupported (gRPC
    /// UNIMPLEMENTED, as a handler written with the published Python
    /// `CommandRouter` does): their commands run without the state cache
    /// and without runtime-made snapshots, and `Replay` is not asked again.
    no_replay: RwLock<HashSet<String>>,
    /// Where the aggregates written under each correlation id are recorded
    /// (`None`: not recorded).
    correlations: Option<Correlations>,
}

/// Builds an [`AggregateCoordinator`].
#[derive(Debug)]
pub struct AggregateCoordinatorBuilder {
    inner: AggregateCoordinator,
}

impl AggregateCoordinatorBuilder {
    /// Adds `domain`'s command handler.
    pub fn handler(mut self, domain: &str, handler: Arc<dyn CommandHandler>) -> Self {
        self.inner.handlers.insert(domain.to_owned(), handler);
        self
    }

    /// Loads and stores snapshots in `snapshots`.
    pub fn snapshots(mut self, snapshots: Arc<dyn SnapshotStore>) -> Self {
        self.inner.snapshots = Some(snapshots);
        self
    }

    /// Also stores a snapshot each time an aggregate's history crosses a
    /// multiple of `every` events (needs [`Self::snapshots`]).
    pub fn snapshot_every(mut self, every: u32) -> Self {
        self.inner.snapshot_every = (every > 0).then_some(every);
        self
    }

    /// Upcasts loaded events through `upcaster` before handlers see them.
    pub fn upcaster(mut self, upcaster: Arc<dyn Upcaster>) -> Self {
        self.inner.upcaster = Some(upcaster);
        self
    }

    /// Keeps the folded state of up to `capacity` aggregates in process
    /// after each command (through the handler's `replay`), so the next
    /// command on a hot aggregate starts from it: no snapshot read and no
    /// fold of the history since the last stored snapshot. Every event after
    /// the cached state is still loaded from the store, so a cached state is
    /// never stale, only old. Costs one `replay` of the new events per
    /// command; worth it when aggregates receive more than one command per
    /// process lifetime (warm functions, the persistent topology).
    pub fn cache_states(mut self, capacity: usize) -> Self {
        self.inner.cache = (capacity > 0).then(|| StateCache::new(capacity));
        self
    }

    /// How conflicting commutative commands are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.inner.retry = retry;
        self
    }

    /// Applies the `runtime` section of the configuration: snapshot
    /// interval, state cache size and merge retries — what every host
    /// calls, so the coordinator behaves the same on each.
    pub fn runtime_config(self, config: &angzarr_core::config::RuntimeConfig) -> Self {
        self.snapshot_every(config.snapshot_every)
            .cache_states(config.cache_states)
            .retry(RetryPolicy::from(&config.merge_retry))
            .correlation_index(config.correlation_index)
    }

    /// Whether the aggregates written under each correlation id are
    /// recorded in the store ([`Correlations`]; on by default), for queries
    /// by correlation id. Costs one read and one write per append that has
    /// a correlation id.
    pub fn correlation_index(mut self, on: bool) -> Self {
        self.inner.correlations = on.then(|| Correlations::new(self.inner.store.inner().clone()));
        self
    }

    /// Projectors run before the answer for `SYNC_MODE_SIMPLE` commands,
    /// through `dispatch` (so the bus delivery that follows is a duplicate).
    pub fn sync_projectors(
        mut self,
        dispatch: Arc<ProjectorDispatch>,
        projectors: Vec<Arc<dyn Projector>>,
    ) -> Self {
        self.inner.projector_dispatch = Some(dispatch);
        self.inner.sync_projectors = projectors;
        self
    }

    /// Remembers injected facts in `guard` for `policy.retention`, so a
    /// repeat is answered `already_processed` and appends nothing (by
    /// default a guard in process memory: give the deployment's one).
    pub fn firing_guard(mut self, guard: Arc<dyn FiringGuard>, policy: FiringPolicy) -> Self {
        self.inner.guard = guard;
        self.inner.policy = policy;
        self
    }

    /// The coordinator.
    pub fn build(self) -> AggregateCoordinator {
        self.inner
    }
}

/// What a command's handler decided, validated.
enum Decision {
    /// Events to append (already checked to belong to the aggregate).
    Events(Vec<EventPage>, Option<Snapshot>),
    /// Nothing to append (a notification, or no events).
    Nothing,
}

impl AggregateCoordinator {
    /// A coordinator over `store` (with editions: [`Timelines`]) publishing
    /// on `bus`; add handlers with the builder.
    pub fn builder(
        store: Arc<dyn EventStore>,
        bus: Arc<dyn EventBus>,
    ) -> AggregateCoordinatorBuilder {
        AggregateCoordinatorBuilder {
            inner: AggregateCoordinator {
                handlers: HashMap::new(),
                upcaster: None,
                store: Timelines::new(store.clone()),
                snapshots: None,
                bus,
                retry: RetryPolicy::default(),
                snapshot_every: None,
                sync_projectors: Vec::new(),
                projector_dispatch: None,
                cache: None,
                guard: Arc::new(MemoryFiringGuard::new()),
                policy: FiringPolicy::default(),
                no_replay: RwLock::default(),
                correlations: Some(Correlations::new(store.clone())),
            },
        }
    }

    /// Whether `domain`'s handler folds state (`Replay`); `false` once it
    /// answered that it does not.
    fn replays(&self, domain: &str) -> bool {
        self.no_replay
            .read()
            .map_or(true, |domains| !domains.contains(domain))
    }

    /// Notes a failed `Replay` of `key`'s handler. One answered as
    /// unsupported is the stated fallback, logged once per domain: that
    /// domain's commands load their history from the last snapshot the
    /// handler returned (or from the start) each time. Any other failure is
    /// logged as `what` failing.
    fn replay_failed(&self, key: &AggregateKey, error: &Error, what: &str) {
        if error.code() != angzarr_core::ErrorCode::Unsupported {
            warn!(%key, %error, "{what} failed");
            return;
        }
        let first = self
            .no_replay
            .write()
            .is_ok_and(|mut domains| domains.insert(key.domain.clone()));
        if first {
            warn!(
                domain = %key.domain,
                %error,
                "the handler does not implement Replay: commands on this domain run without the \
                 state cache and without snapshots made by the runtime (each loads the history \
                 from the handler's last snapshot); Replay is not asked again"
            );
        }
    }

    /// Whether this coordinator has a handler for `domain` (every
    /// coordinator runs the runtime's own commands, domain
    /// [`META_DOMAIN`], for the domains it hosts).
    pub fn handles(&self, domain: &str) -> bool {
        domain == META_DOMAIN || self.handlers.contains_key(domain)
    }

    /// Runs one command through the pipeline.
    pub async fn handle(&self, request: CommandRequest) -> Result<CommandResponse> {
        let command = request
            .command
            .ok_or_else(|| Error::invalid_argument("command request carries no command"))?;
        if command
            .cover
            .as_ref()
            .is_some_and(|cover| cover.domain == META_DOMAIN)
        {
            return self.run_meta(command).await;
        }
        let (key, strategy, expected, divergence) = validate_command(&command)?;
        let handler = self.handlers.get(&key.domain).ok_or_else(|| {
            Error::invalid_argument(format!("no aggregate handles domain `{}`", key.domain))
        })?;

        // A handler that folds the pages only gets the whole history.
        let reads_snapshots = handler.reads_snapshots();
        let mut ignore_snapshot = !reads_snapshots;
        let mut attempt = 0;
        let (book, snapshot_from_handler, prior_next, state) = loop {
            let prior = self.load_prior(&key, ignore_snapshot, divergence).await?;
            // What the new state is folded from, when states are cached (in
            // steady state: the cached state and no pages).
            let base = self
                .cache
                .as_ref()
                // An edition's state is not cached: editions can be deleted
                // and written anew, which other instances would not see.
                .filter(|_| reads_snapshots && key.is_main() && self.replays(&key.domain))
                .map(|_| (prior.snapshot.clone(), prior.pages.clone()));
            let next = prior.next_sequence;
            let snapshot_end = prior.snapshot.as_ref().map_or(0, |s| s.sequence + 1);
            check_strict(&key, strategy, expected, next)?;
            let given = if reads_snapshots {
                Vec::new()
            } else {
                prior.pages.clone()
            };
            let contextual = ContextualCommand {
                events: Some(prior),
                command: Some(command.clone()),
            };
            let answer = handler.handle(contextual).await?;
            let (pages, snapshot) = match decide(&key, answer, &given)? {
                Decision::Events(pages, snapshot) => (pages, snapshot),
                Decision::Nothing => {
                    return Ok(CommandResponse {
                        events: Some(published_book(&key, &command, Vec::new(), next)),
                        projections: Vec::new(),
                        ..Default::default()
                    });
                }
            };
            let stamped = prepare_append(&key, next, pages, self.store.limits())?;
            // What will be published, checked against the bus before it is
            // stored: a stored book the bus refuses would reach no one.
            let count = u32::try_from(stamped.len()).unwrap_or(u32::MAX);
            let book = published_book(&key, &command, stamped, next.saturating_add(count));
            check_fits(self.bus.as_ref(), &book)?;
            match self
                .store
                .append_at(&key, next, book.pages.clone(), divergence)
                .await
            {
                Ok(new_next) => {
                    let state = match base {
                        Some((snapshot, mut pages)) => {
                            pages.extend(book.pages.iter().cloned());
                            self.fold_state(&key, handler.as_ref(), snapshot, pages, new_next)
                                .await
                        }
                        None => None,
                    };
                    let book = EventBook {
                        next_sequence: new_next,
                        ..book
                    };
                    break (book, snapshot, next, state);
                }
                Err(Error::SequenceConflict { actual, .. })
                    if strategy != MergeStrategy::MergeStrict
                        && attempt + 1 < self.retry.max_attempts =>
                {
                    // A stale snapshot ahead of the history would make every retry conflict.
                    if actual < snapshot_end {
                        ignore_snapshot = true;
                        if let Some(cache) = &self.cache {
                            cache.forget(&key);
                        }
                    }
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        };

        self.store_snapshot(
            &key,
            handler.as_ref(),
            prior_next,
            &book,
            snapshot_from_handler,
            state,
        )
        .await;
        self.publish(&book).await?;
        let projections = match SyncMode::try_from(request.sync_mode) {
            Ok(SyncMode::Simple | SyncMode::Cascade) => self.run_sync_projectors(&book).await,
            _ => Vec::new(),
        };
        Ok(CommandResponse {
            events: Some(book),
            projections,
            ..Default::default()
        })
    }

    /// The snapshot and the events after it, upcast, as the handler sees them.
    async fn load_prior(
        &self,
        key: &AggregateKey,
        ignore_snapshot: bool,
        divergence: Option<u32>,
    ) -> Result<EventBook> {
        let cached = match (&self.cache, ignore_snapshot) {
            (Some(cache), false) => cache.get(key),
            _ => None,
        };
        let snapshot = match (cached, &self.snapshots, ignore_snapshot) {
            (Some(cached), _, _) => Some(cached),
            (None, Some(snapshots), false) => snapshots.get(key).await?,
            _ => None,
        };
        let from = snapshot
            .as_ref()
            .map_or(0, |s| s.sequence.saturating_add(1));
        let mut pages = self
            .store
            .load_at(key, LoadRange::from(from), divergence)
            .await?;
        let next_sequence = pages
            .last()
            .and_then(page_sequence)
            .map_or(from, |last| last.saturating_add(1));
        pages = self.upcast(key, pages).await?;
        Ok(EventBook {
            cover: Some(key.cover(String::new())),
            snapshot,
            pages,
            next_sequence,
        })
    }

    /// `pages` through the upcaster, if there is one.
    async fn upcast(&self, key: &AggregateKey, pages: Vec<EventPage>) -> Result<Vec<EventPage>> {
        let Some(upcaster) = self.upcaster.as_ref().filter(|_| !pages.is_empty()) else {
            return Ok(pages);
        };
        let count = pages.len();
        let upcast = upcaster
            .upcast(UpcastRequest {
                domain: key.domain.clone(),
                events: pages,
            })
            .await?;
        if upcast.events.len() != count {
            return Err(Error::backend(
                "upcaster",
                format!("returned {} events for {count}", upcast.events.len()),
                false,
            ));
        }
        Ok(upcast.events)
    }

    /// Appends externally decided events (facts) to the aggregate of the
    /// request's cover, without a command.
    ///
    /// Every page names where it comes from in its header: an
    /// `external_deferred` with a non-empty `external_id`, or an
    /// `angzarr_deferred` naming the source event. The runtime assigns the
    /// sequences (after the aggregate's current end, retrying on a
    /// concurrent append). A fact seen before — the same aggregate and the
    /// same external ids or source events, within the firing guard's
    /// retention — appends nothing and is answered `already_processed`.
    /// With `route_to_handler`, the aggregate's handler gets the facts first,
    /// as the pages of a command (the fact events as their payloads), and
    /// what it answers is appended instead. Appended facts are published and,
    /// with `SYNC_MODE_SIMPLE`, projected like a command's events.
    pub async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        let book = request
            .events
            .ok_or_else(|| Error::invalid_argument("fact request carries no events"))?;
        let cover = book
            .cover
            .clone()
            .ok_or_else(|| Error::invalid_argument("fact has no cover"))?;
        let key = AggregateKey::from_cover(&cover)?;
        let divergence = divergence_for(&cover)?;
        let handler = self.handlers.get(&key.domain).ok_or_else(|| {
            Error::invalid_argument(format!("no aggregate handles domain `{}`", key.domain))
        })?;
        let fact_id = fact_id(&book.pages)?;
        if let Decision::Nothing = decide(&key, events_answer(book.pages.clone()), &[])? {
            return Err(Error::invalid_argument("fact carries no events"));
        }
        let guard_key = format!("fact/{key}/{fact_id}");
        let outcome = run_once(self.guard.as_ref(), self.policy, &guard_key, async {
            self.append_facts(
                &key,
                &cover,
                divergence,
                handler.as_ref(),
                book.pages.clone(),
                request.route_to_handler,
            )
            .await
        })
        .await?;
        match outcome {
            Guarded::Done(stored) => {
                let projections = match SyncMode::try_from(request.sync_mode) {
                    Ok(SyncMode::Simple | SyncMode::Cascade) => {
                        self.run_sync_projectors(&stored).await
                    }
                    _ => Vec::new(),
                };
                Ok(FactInjectionResponse {
                    events: Some(stored),
                    already_processed: false,
                    projections,
                })
            }
            Guarded::Duplicate => Ok(FactInjectionResponse {
                events: Some(EventBook {
                    cover: Some(key.cover(cover.correlation_id.clone())),
                    next_sequence: self.store.next_sequence_at(&key, divergence).await?,
                    ..Default::default()
                }),
                already_processed: true,
                projections: Vec::new(),
            }),
        }
    }

    /// Appends `facts` (or what the handler makes of them) after the
    /// aggregate's end, retrying on a concurrent append; publishes them.
    async fn append_facts(
        &self,
        key: &AggregateKey,
        cover: &Cover,
        divergence: Option<u32>,
        handler: &dyn CommandHandler,
        facts: Vec<EventPage>,
        route_to_handler: bool,
    ) -> Result<EventBook> {
        let mut attempt = 0;
        loop {
            let (next, pages) = if route_to_handler {
                let prior = self
                    .load_prior(key, !handler.reads_snapshots(), divergence)
                    .await?;
                let next = prior.next_sequence;
                let command = CommandBook {
                    cover: Some(cover.clone()),
                    pages: facts.iter().map(fact_as_command).collect(),
                };
                let given = if handler.reads_snapshots() {
                    Vec::new()
                } else {
                    prior.pages.clone()
                };
                let answer = handler
                    .handle(ContextualCommand {
                        events: Some(prior),
                        command: Some(command),
                    })
                    .await?;
                match decide(key, answer, &given)? {
                    Decision::Events(pages, _) => (next, pages),
                    Decision::Nothing => {
                        return Err(Error::Rejected {
                            reason: "the handler made no events of the facts".into(),
                        });
                    }
                }
            } else {
                let next = self.store.next_sequence_at(key, divergence).await?;
                (next, facts.clone())
            };
            let stamped = prepare_append(key, next, pages, self.store.limits())?;
            let count = u32::try_from(stamped.len()).unwrap_or(u32::MAX);
            let book = EventBook {
                cover: Some(key.cover(cover.correlation_id.clone())),
                snapshot: None,
                pages: stamped,
                next_sequence: next.saturating_add(count),
            };
            check_fits(self.bus.as_ref(), &book)?;
            match self
                .store
                .append_at(key, next, book.pages.clone(), divergence)
                .await
            {
                Ok(new_next) => {
                    let book = EventBook {
                        next_sequence: new_next,
                        ..book
                    };
                    self.publish(&book).await?;
                    return Ok(book);
                }
                Err(Error::SequenceConflict { .. }) if attempt + 1 < self.retry.max_attempts => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A command of the runtime's own ([`META_DOMAIN`]): one page holding
    /// `DeleteEditionEvents`, which deletes an edition's events (and its
    /// snapshots and cached states) in a domain this coordinator hosts and
    /// answers `EditionEventsDeleted`. Nothing is stored or published for
    /// it. Anything else is INVALID_ARGUMENT.
    async fn run_meta(&self, command: CommandBook) -> Result<CommandResponse> {
        let [page] = command.pages.as_slice() else {
            return Err(Error::invalid_argument(format!(
                "a command to `{META_DOMAIN}` carries one page, not {}",
                command.pages.len()
            )));
        };
        let Some(CommandPayload::Command(body)) = &page.payload else {
            return Err(Error::invalid_argument(format!(
                "a command to `{META_DOMAIN}` carries its message inline"
            )));
        };
        if !angzarr_core::any::is::<DeleteEditionEvents>(body) {
            return Err(Error::invalid_argument(format!(
                "`{META_DOMAIN}` runs DeleteEditionEvents only, not `{}`",
                body.type_url
            )));
        }
        let delete: DeleteEditionEvents = angzarr_core::any::unpack(body)?;
        if !self.handlers.contains_key(&delete.domain) {
            return Err(Error::invalid_argument(format!(
                "no aggregate handles domain `{}` here",
                delete.domain
            )));
        }
        let deleted = self
            .store
            .delete_edition(&delete.domain, &delete.edition)
            .await?;
        let mut count = 0u32;
        for (key, events) in &deleted {
            count = count.saturating_add(*events);
            if let Some(cache) = &self.cache {
                cache.forget(key);
            }
            if let Some(snapshots) = &self.snapshots
                && let Err(error) = snapshots.delete(key).await
            {
                // The events are gone: a stale snapshot only costs a conflict
                // and a reload when the edition is written again.
                warn!(%key, %error, "deleting an edition's snapshot failed");
            }
        }
        let now = prost_types::Timestamp::from(std::time::SystemTime::now());
        info!(
            domain = %delete.domain,
            edition = %delete.edition,
            aggregates = deleted.len(),
            events = count,
            "edition deleted"
        );
        let answer = EditionEventsDeleted {
            edition: delete.edition,
            domain: delete.domain,
            deleted_count: count,
            deleted_at: now.to_string(),
        };
        Ok(CommandResponse {
            events: Some(EventBook {
                cover: command.cover,
                snapshot: None,
                pages: vec![EventPage {
                    header: Some(angzarr_core::proto::PageHeader {
                        sequence_type: Some(SequenceType::Sequence(0)),
                    }),
                    created_at: Some(now),
                    payload: Some(EventPayload::Event(angzarr_core::any::pack(&answer))),
                    ..Default::default()
                }],
                next_sequence: 0,
            }),
            ..Default::default()
        })
    }

    /// Runs a command against its aggregate's history as of `point_in_time`
    /// (the whole history when absent) and answers what it would produce:
    /// the events, numbered after that point, and the projections of the
    /// synchronous projectors that project speculatively. Nothing is
    /// persisted or published, and no read model changes.
    pub async fn speculate(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse> {
        let command = request
            .command
            .ok_or_else(|| Error::invalid_argument("speculative request carries no command"))?;
        let (key, strategy, expected, divergence) = validate_command(&command)?;
        let handler = self.handlers.get(&key.domain).ok_or_else(|| {
            Error::invalid_argument(format!("no aggregate handles domain `{}`", key.domain))
        })?;
        let cover = command.cover.clone().unwrap_or_default();
        let history = EventQueries::new(self.store.inner().clone())
            .get_event_book(Query {
                cover: Some(cover),
                selection: request
                    .point_in_time
                    .map(angzarr_core::proto::query::Selection::Temporal),
            })
            .await?;
        let next = match history.pages.last().and_then(page_sequence) {
            Some(last) => last.saturating_add(1),
            None if request.point_in_time.is_some() => {
                // Before the first event (or its divergence point).
                divergence.unwrap_or(0)
            }
            None => history.next_sequence,
        };
        check_strict(&key, strategy, expected, next)?;
        let pages = self.upcast(&key, history.pages).await?;
        let given = if handler.reads_snapshots() {
            Vec::new()
        } else {
            pages.clone()
        };
        let prior = EventBook {
            cover: Some(key.cover(String::new())),
            snapshot: None,
            pages,
            next_sequence: next,
        };
        let answer = handler
            .handle(ContextualCommand {
                events: Some(prior),
                command: Some(command.clone()),
            })
            .await?;
        let pages = match decide(&key, answer, &given)? {
            Decision::Events(pages, _) => prepare_append(&key, next, pages, self.store.limits())?,
            Decision::Nothing => Vec::new(),
        };
        let new_next = next.saturating_add(u32::try_from(pages.len()).unwrap_or(u32::MAX));
        let book = published_book(&key, &command, pages, new_next);
        let mut projections = Vec::new();
        if !book.pages.is_empty() {
            for projector in &self.sync_projectors {
                match projector.handle_speculative(book.clone()).await {
                    Ok(projection) => projections.push(projection),
                    Err(error) if error.code() == angzarr_core::ErrorCode::Unsupported => {}
                    Err(error) => {
                        warn!(projector = projector.name(), %error, "speculative projection failed")
                    }
                }
            }
        }
        Ok(CommandResponse {
            events: Some(book),
            projections,
            ..Default::default()
        })
    }

    /// The state after a command: the handler's fold of `snapshot` and
    /// `pages`, through `next - 1`, kept in the cache. `None` (and the cache
    /// entry dropped) if the handler cannot fold it.
    async fn fold_state(
        &self,
        key: &AggregateKey,
        handler: &dyn CommandHandler,
        snapshot: Option<Snapshot>,
        pages: Vec<EventPage>,
        next: u32,
    ) -> Option<Snapshot> {
        let cache = self.cache.as_ref()?;
        let folded = handler
            .replay(ReplayRequest {
                base_snapshot: snapshot,
                events: pages,
            })
            .await;
        match folded {
            Ok(folded) => {
                let state = Snapshot {
                    sequence: next.saturating_sub(1),
                    state: folded.state,
                    retention: 0,
                };
                cache.put(key, state.clone());
                Some(state)
            }
            Err(error) => {
                self.replay_failed(key, &error, "folding the new state (not cached)");
                cache.forget(key);
                None
            }
        }
    }

    /// Stores the snapshot the handler returned, or — when the history
    /// crossed a multiple of `snapshot_every` — the cached new state, or one
    /// folded by the handler's `replay` (reloading what it needs: once per N
    /// commands).
    async fn store_snapshot(
        &self,
        key: &AggregateKey,
        handler: &dyn CommandHandler,
        prior_next: u32,
        book: &EventBook,
        from_handler: Option<Snapshot>,
        state: Option<Snapshot>,
    ) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        let last = book.next_sequence.saturating_sub(1);
        let crossed = self
            .snapshot_every
            .is_some_and(|every| prior_next / every != book.next_sequence / every);
        let snapshot = match (from_handler, crossed, state) {
            (Some(snapshot), _, _) => Some(Snapshot {
                sequence: last,
                ..snapshot
            }),
            (None, true, Some(state)) => Some(state),
            (None, true, None) if handler.reads_snapshots() && self.replays(&key.domain) => {
                match self.replay(key, handler, last).await {
                    Ok(snapshot) => Some(snapshot),
                    Err(error) => {
                        self.replay_failed(
                            key,
                            &error,
                            "replay for a snapshot (continuing without)",
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some(snapshot) = snapshot {
            // A snapshot is a cache: failing to store one loses nothing.
            if let Err(error) = snapshots.put(key, snapshot).await {
                warn!(%key, %error, "storing a snapshot failed");
            }
        }
    }

    /// The aggregate's state through sequence `last`, folded by the handler
    /// from the latest snapshot and the events after it.
    async fn replay(
        &self,
        key: &AggregateKey,
        handler: &dyn CommandHandler,
        last: u32,
    ) -> Result<Snapshot> {
        let base = match &self.snapshots {
            Some(snapshots) => snapshots.get(key).await?.filter(|s| s.sequence <= last),
            None => None,
        };
        let from = base.as_ref().map_or(0, |s| s.sequence + 1);
        let events = self
            .store
            .load(key, LoadRange::between(from, last.saturating_add(1)))
            .await?;
        let state = handler
            .replay(ReplayRequest {
                base_snapshot: base,
                events,
            })
            .await?;
        Ok(Snapshot {
            sequence: last,
            state: state.state,
            retention: 0,
        })
    }

    /// Publishes, retrying retriable failures. The events are already stored:
    /// a failure here is reported, never hidden.
    async fn publish(&self, book: &EventBook) -> Result<()> {
        self.record_correlation(book).await;
        let mut attempt = 0;
        loop {
            match self.bus.publish(book).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_retriable() && attempt + 1 < 3 => {
                    tokio::time::sleep(self.retry.delay(attempt + 3)).await;
                    attempt += 1;
                }
                Err(error) => {
                    let first = book.pages.first().and_then(page_sequence).unwrap_or(0);
                    return Err(Error::backend(
                        "publish",
                        format!(
                            "events {first}..{} were stored but not published: {error}",
                            book.next_sequence
                        ),
                        false,
                    ));
                }
            }
        }
    }

    /// Records `book`'s aggregate under its correlation id. The events are
    /// stored: a failure is logged, and the query by correlation id misses
    /// them.
    async fn record_correlation(&self, book: &EventBook) {
        let Some(correlations) = &self.correlations else {
            return;
        };
        let Some(cover) = &book.cover else { return };
        let mut sequences = book.pages.iter().filter_map(page_sequence);
        let (Some(first), Ok(key)) = (sequences.next(), AggregateKey::from_cover(cover)) else {
            return;
        };
        let last = sequences.next_back().unwrap_or(first);
        if let Err(error) = correlations
            .record(&cover.correlation_id, &key, first, last)
            .await
        {
            warn!(%key, correlation_id = %cover.correlation_id, %error, "recording the correlation failed");
        }
    }

    async fn run_sync_projectors(&self, book: &EventBook) -> Vec<Projection> {
        let Some(dispatch) = &self.projector_dispatch else {
            return Vec::new();
        };
        let mut projections = Vec::new();
        for projector in &self.sync_projectors {
            match dispatch.deliver(projector.as_ref(), book.clone()).await {
                Ok(Guarded::Done(projection)) => projections.push(projection),
                Ok(Guarded::Duplicate) => {}
                // The command is committed; the bus delivery will retry the projector.
                Err(error) => {
                    warn!(projector = projector.name(), %error, "synchronous projector failed")
                }
            }
        }
        projections
    }
}

#[async_trait]
impl CommandRouter for AggregateCoordinator {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        self.handle(request).await
    }

    async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        AggregateCoordinator::inject(self, request).await
    }

    async fn speculate(&self, request: SpeculateCommandHandlerRequest) -> Result<CommandResponse> {
        AggregateCoordinator::speculate(self, request).await
    }
}

/// Checks a command's cover and pages; returns its aggregate, merge
/// strategy, expected sequence and the divergence point its edition names.
fn validate_command(
    command: &CommandBook,
) -> Result<(AggregateKey, MergeStrategy, Option<u32>, Option<u32>)> {
    let cover = command
        .cover
        .as_ref()
        .ok_or_else(|| Error::invalid_argument("command has no cover"))?;
    if cover.domain.is_empty() {
        return Err(Error::invalid_argument("command cover has no domain"));
    }
    if cover.root.is_none() {
        return Err(Error::invalid_argument("command cover has no root"));
    }
    let key = AggregateKey::from_cover(cover)?;
    let divergence = divergence_for(cover)?;
    let first = command
        .pages
        .first()
        .ok_or_else(|| Error::invalid_argument("command has no pages"))?;
    for page in &command.pages {
        match &page.payload {
            Some(CommandPayload::Command(any)) if !any.type_url.is_empty() => {}
            Some(CommandPayload::External(_)) => {}
            _ => {
                return Err(Error::invalid_argument(
                    "command page has no command payload",
                ));
            }
        }
    }
    let strategy = MergeStrategy::try_from(first.merge_strategy).map_err(|_| {
        Error::invalid_argument(format!("unknown merge strategy {}", first.merge_strategy))
    })?;
    // MERGE_MANUAL is treated as strict: the sender decides what to do on a mismatch.
    let strategy = match strategy {
        MergeStrategy::MergeManual => MergeStrategy::MergeStrict,
        other => other,
    };
    Ok((key, strategy, expected_sequence(first), divergence))
}

/// A strict command whose expected sequence is not `next` is a conflict.
fn check_strict(
    key: &AggregateKey,
    strategy: MergeStrategy,
    expected: Option<u32>,
    next: u32,
) -> Result<()> {
    match expected {
        Some(expected) if strategy == MergeStrategy::MergeStrict && expected != next => {
            Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual: next,
            })
        }
        _ => Ok(()),
    }
}

fn expected_sequence(page: &CommandPage) -> Option<u32> {
    match page.header.as_ref()?.sequence_type.as_ref()? {
        SequenceType::Sequence(sequence) => Some(*sequence),
        _ => None,
    }
}

/// Validates a handler's answer: a revocation is a rejection; events must
/// belong to the command's aggregate and carry a payload.
/// What a handler decided. `given` is the history it was given, when it
/// folds the pages only ([`CommandHandler::reads_snapshots`]): answered pages
/// that repeat a page of it (its sequence and content) are that history
/// echoed back, not new events, and are dropped. The published client
/// libraries' class-based aggregates answer the history before their new
/// events when the command did not read the state.
fn decide(
    key: &AggregateKey,
    response: angzarr_core::proto::BusinessResponse,
    given: &[EventPage],
) -> Result<Decision> {
    let mut book = match response.result {
        Some(Business::Events(book)) => book,
        Some(Business::Revocation(revocation)) => {
            let reason = if revocation.reason.is_empty() {
                "command revoked by its handler".to_owned()
            } else {
                revocation.reason
            };
            return Err(Error::Rejected { reason });
        }
        Some(Business::Notification(_)) | None => return Ok(Decision::Nothing),
    };
    if let Some(cover) = &book.cover {
        let other_domain = !cover.domain.is_empty() && cover.domain != key.domain;
        let other_root = match &cover.root {
            Some(root) => uuid::Uuid::try_from(root).ok() != Some(key.root),
            None => false,
        };
        if other_domain || other_root {
            return Err(Error::Rejected {
                reason: format!("handler returned events for another aggregate than {key}"),
            });
        }
    }
    for page in &book.pages {
        match &page.payload {
            Some(EventPayload::Event(any)) if !any.type_url.is_empty() => {}
            Some(EventPayload::External(reference)) if !reference.uri.is_empty() => {}
            _ => {
                return Err(Error::Rejected {
                    reason: "handler returned an event without a valid payload".to_owned(),
                });
            }
        }
    }
    if !given.is_empty() {
        book.pages.retain(|page| !echoes(given, page));
    }
    if book.pages.is_empty() {
        return Ok(Decision::Nothing);
    }
    Ok(Decision::Events(book.pages, book.snapshot))
}

/// Whether `page` repeats the page of `given` (ordered by sequence) that has
/// its sequence.
fn echoes(given: &[EventPage], page: &EventPage) -> bool {
    let Some(sequence) = page_sequence(page) else {
        return false;
    };
    given
        .binary_search_by_key(&sequence, |g| page_sequence(g).unwrap_or(u32::MAX))
        .is_ok_and(|at| given[at] == *page)
}

/// A handler's answer carrying `pages` as events.
fn events_answer(pages: Vec<EventPage>) -> angzarr_core::proto::BusinessResponse {
    angzarr_core::proto::BusinessResponse {
        result: Some(Business::Events(EventBook {
            pages,
            ..Default::default()
        })),
    }
}

/// What makes a fact the same fact again: its pages' external ids, or the
/// source events they name. Every page must name one.
fn fact_id(pages: &[EventPage]) -> Result<String> {
    if pages.is_empty() {
        return Err(Error::invalid_argument("fact carries no events"));
    }
    let mut ids = Vec::with_capacity(pages.len());
    for page in pages {
        let id = match page.header.as_ref().and_then(|h| h.sequence_type.as_ref()) {
            Some(SequenceType::ExternalDeferred(external)) if !external.external_id.is_empty() => {
                format!("external:{}", external.external_id)
            }
            Some(SequenceType::AngzarrDeferred(deferred)) => {
                let source = deferred.source.as_ref().ok_or_else(|| {
                    Error::invalid_argument("a fact's angzarr_deferred header names no source")
                })?;
                format!(
                    "source:{}@{}",
                    AggregateKey::from_cover(source)?,
                    deferred.source_seq
                )
            }
            Some(SequenceType::ExternalDeferred(_)) => {
                return Err(Error::invalid_argument(
                    "a fact's external_deferred header has an empty external_id",
                ));
            }
            Some(SequenceType::Sequence(sequence)) => {
                return Err(Error::invalid_argument(format!(
                    "a fact cannot choose its sequence ({sequence}): the runtime assigns it; \
                     name the fact with an external_deferred or angzarr_deferred header"
                )));
            }
            None => {
                return Err(Error::invalid_argument(
                    "a fact needs an external_deferred or angzarr_deferred header",
                ));
            }
        };
        ids.push(id);
    }
    Ok(ids.join(","))
}

/// A fact event as the page of a command to its aggregate's handler
/// (`route_to_handler`): the same header and payload.
fn fact_as_command(page: &EventPage) -> CommandPage {
    CommandPage {
        header: page.header.clone(),
        merge_strategy: MergeStrategy::MergeCommutative as i32,
        payload: page.payload.clone().map(|payload| match payload {
            EventPayload::Event(any) => CommandPayload::Command(any),
            EventPayload::External(reference) => CommandPayload::External(reference),
        }),
    }
}

/// The book published and answered: the stored pages under the command's cover.
fn published_book(
    key: &AggregateKey,
    command: &CommandBook,
    pages: Vec<EventPage>,
    next: u32,
) -> EventBook {
    let correlation_id = command
        .cover
        .as_ref()
        .map(|c| c.correlation_id.clone())
        .unwrap_or_default();
    EventBook {
        cover: Some(key.cover(correlation_id)),
        snapshot: None,
        pages,
        next_sequence: next,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use angzarr_core::config::{MergeRetryConfig, RuntimeConfig};
    use angzarr_core::memory::{MemoryBus, MemoryEventStore};

    use super::*;

    fn built(config: &RuntimeConfig) -> AggregateCoordinator {
        AggregateCoordinator::builder(
            Arc::new(MemoryEventStore::new()),
            Arc::new(MemoryBus::new()),
        )
        .runtime_config(config)
        .build()
    }

    #[test]
    fn the_runtime_section_sets_snapshots_cache_and_retries() {
        let coordinator = built(&RuntimeConfig {
            snapshot_every: 7,
            cache_states: 3,
            merge_retry: MergeRetryConfig {
                max_attempts: 4,
                base_delay_ms: 5,
                max_delay_ms: 50,
            },
            correlation_index: false,
        });
        assert_eq!(coordinator.snapshot_every, Some(7));
        assert!(coordinator.correlations.is_none());
        assert!(coordinator.cache.is_some());
        assert_eq!(
            coordinator.retry,
            RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            }
        );

        let off = built(&RuntimeConfig {
            snapshot_every: 0,
            cache_states: 0,
            ..RuntimeConfig::default()
        });
        assert_eq!(off.snapshot_every, None);
        assert!(off.cache.is_none());
        assert_eq!(off.retry, RetryPolicy::default());
    }
}
