//! The one delivery path of every host: a book in, the projectors and sagas
//! that read its domain run through the firing guard, their counts kept.
//!
//! Lambda hands a batch's books to [`Triggers::deliver`] (every handler
//! subscribed to the domain); Cloud Run's push endpoints name the handler
//! ([`Triggers::deliver_to`]). Either way a delivery is keyed by handler and
//! book ([`angzarr_core::guard::firing_key`]), so a book delivered twice has
//! one effect and a retried book redoes only the handlers that had not
//! finished; a book of a domain the handler does not read is acknowledged
//! without running it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use angzarr_core::proto::EventBook;
use angzarr_core::{AggregateKey, Error, FiringGuard, Result};
use angzarr_runtime::dead_letter::DeadLetterSink;
use angzarr_runtime::{
    CommandRouter, FiringPolicy, Guarded, ProcessManager, ProcessManagerDispatch, Projector,
    ProjectorDispatch, Saga, SagaDispatch,
};

use crate::{Adapters, Application, Kind, Subscribed};

/// What one handler's deliveries came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Delivered and handled now.
    pub done: u64,
    /// Delivered again after being handled: no second effect.
    pub duplicates: u64,
    /// Failed (the platform delivers again).
    pub failed: u64,
    /// From a domain the handler does not read (acknowledged, not handled).
    pub skipped: u64,
    /// Saga commands sent.
    pub commands_sent: u64,
    /// Saga and process-manager commands and facts refused for good, and
    /// triggers a process manager's `Prepare` made refused, kept as dead
    /// letters.
    pub dead_lettered: u64,
    /// Process-manager events appended to its state.
    pub process_events: u64,
}

/// Per-handler delivery counts of one process, for logs, tests and demos
/// (clones share them).
#[derive(Clone, Debug, Default)]
pub struct TriggerStats {
    counts: Arc<Mutex<BTreeMap<String, Counts>>>,
}

impl TriggerStats {
    /// The counts of `handler` (zero when it saw nothing).
    pub fn get(&self, handler: &str) -> Counts {
        self.lock().get(handler).copied().unwrap_or_default()
    }

    /// Every handler's counts.
    pub fn all(&self) -> BTreeMap<String, Counts> {
        self.lock().clone()
    }

    fn update(&self, handler: &str, change: impl FnOnce(&mut Counts)) {
        change(self.lock().entry(handler.to_owned()).or_default());
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Counts>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one handler did with one book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Handled now.
    Done,
    /// Handled before: no second effect.
    Duplicate,
    /// Of a domain the handler does not read: acknowledged, not handled.
    Skipped,
}

/// What one book's delivery did, per handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Handlers that did their work now.
    pub done: Vec<String>,
    /// Handlers that had done it before (duplicate delivery).
    pub duplicates: Vec<String>,
}

/// What the dispatches of [`Triggers`] are built from.
#[derive(Debug)]
struct Parts {
    guard: Arc<dyn FiringGuard>,
    policy: FiringPolicy,
    router: Arc<dyn CommandRouter>,
    dead_letters: Arc<dyn DeadLetterSink>,
}

/// Delivers books to projectors, sagas and process managers.
#[derive(Debug)]
pub struct Triggers {
    projectors: Vec<Subscribed<dyn Projector>>,
    sagas: Vec<Subscribed<dyn Saga>>,
    process_managers: Vec<Subscribed<dyn ProcessManager>>,
    projector_dispatch: ProjectorDispatch,
    saga_dispatch: SagaDispatch,
    process_dispatch: Option<ProcessManagerDispatch>,
    parts: Parts,
    stats: TriggerStats,
}

impl Triggers {
    /// Triggers keyed through `guard`, sending saga commands through
    /// `router` and commands refused for good to `dead_letters`.
    pub fn new(
        guard: Arc<dyn FiringGuard>,
        policy: FiringPolicy,
        router: Arc<dyn CommandRouter>,
        dead_letters: Arc<dyn DeadLetterSink>,
    ) -> Self {
        Self {
            projectors: Vec::new(),
            sagas: Vec::new(),
            process_managers: Vec::new(),
            projector_dispatch: ProjectorDispatch::new(guard.clone(), policy),
            saga_dispatch: SagaDispatch::new(
                guard.clone(),
                policy,
                router.clone(),
                dead_letters.clone(),
            ),
            process_dispatch: None,
            parts: Parts {
                guard,
                policy,
                router,
                dead_letters,
            },
            stats: TriggerStats::default(),
        }
    }

    /// The triggers of a host: keyed through `adapters`' firing guard, with
    /// process managers' state kept in its event store and published on its
    /// bus, commands sent through `router`, refusals to `dead_letters`.
    pub fn from_adapters(
        adapters: &Adapters,
        router: Arc<dyn CommandRouter>,
        dead_letters: Arc<dyn DeadLetterSink>,
    ) -> Self {
        Self::new(
            adapters.guard.clone(),
            adapters.policy,
            router,
            dead_letters,
        )
        .process_state(adapters.store.clone(), adapters.bus.clone())
    }

    /// Keeps process managers' state in `store`, publishing it on `bus`
    /// (without, delivering to a process manager fails).
    pub fn process_state(
        mut self,
        store: Arc<dyn angzarr_core::EventStore>,
        bus: Arc<dyn angzarr_core::EventBus>,
    ) -> Self {
        let parts = &self.parts;
        self.process_dispatch = Some(ProcessManagerDispatch::new(
            parts.guard.clone(),
            parts.policy,
            parts.router.clone(),
            parts.dead_letters.clone(),
            store,
            bus,
        ));
        self
    }

    /// Adds `app`'s projectors (with `projectors`), and its sagas and
    /// process managers (with `sagas`).
    pub fn with_application(mut self, app: &Application, projectors: bool, sagas: bool) -> Self {
        if projectors {
            self.projectors.extend(app.projectors().iter().cloned());
        }
        if sagas {
            self.sagas.extend(app.sagas().iter().cloned());
            self.process_managers
                .extend(app.process_managers().iter().cloned());
        }
        self
    }

    /// Adds a process manager.
    pub fn process_manager(mut self, pm: Subscribed<dyn ProcessManager>) -> Self {
        self.process_managers.push(pm);
        self
    }

    /// The process managers delivered to.
    pub fn process_managers(&self) -> &[Subscribed<dyn ProcessManager>] {
        &self.process_managers
    }

    /// The process-manager dispatch, when the triggers keep their state.
    pub fn process_dispatch(&self) -> Option<&ProcessManagerDispatch> {
        self.process_dispatch.as_ref()
    }

    /// The projector dispatch.
    pub fn projector_dispatch(&self) -> &ProjectorDispatch {
        &self.projector_dispatch
    }

    /// The saga dispatch.
    pub fn saga_dispatch(&self) -> &SagaDispatch {
        &self.saga_dispatch
    }

    /// Adds a projector.
    pub fn projector(mut self, projector: Subscribed<dyn Projector>) -> Self {
        self.projectors.push(projector);
        self
    }

    /// Adds a saga.
    pub fn saga(mut self, saga: Subscribed<dyn Saga>) -> Self {
        self.sagas.push(saga);
        self
    }

    /// Counts into `stats` (shared with the caller) instead of its own.
    pub fn with_stats(mut self, stats: TriggerStats) -> Self {
        self.stats = stats;
        self
    }

    /// The delivery counts.
    pub fn stats(&self) -> &TriggerStats {
        &self.stats
    }

    /// The projectors delivered to.
    pub fn projectors(&self) -> &[Subscribed<dyn Projector>] {
        &self.projectors
    }

    /// The sagas delivered to.
    pub fn sagas(&self) -> &[Subscribed<dyn Saga>] {
        &self.sagas
    }

    /// Delivers `book` to every handler subscribed to its domain. Every
    /// handler is tried; the first failure is returned (the handlers that
    /// succeeded are duplicates on the retry).
    pub async fn deliver(&self, message_id: &str, book: EventBook) -> Result<DeliveryReport> {
        let domain = AggregateKey::from_book(&book)?.domain;
        let mut report = DeliveryReport::default();
        let mut first_error = None;
        let handlers = self
            .projectors
            .iter()
            .map(Handler::Projector)
            .chain(self.sagas.iter().map(Handler::Saga))
            .chain(self.process_managers.iter().map(Handler::Process))
            .filter(|handler| handler.wants(&domain));
        for handler in handlers {
            let name = handler.name();
            match self.run(handler, message_id, &domain, book.clone()).await {
                Ok(Delivered::Done) => report.done.push(name.to_owned()),
                Ok(Delivered::Duplicate) => report.duplicates.push(name.to_owned()),
                Ok(Delivered::Skipped) => {}
                Err(error) => {
                    tracing::warn!(handler = name, %error, "handler failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Delivers `book` to the projector or saga (`kind`) called `name`.
    /// An unknown name is [`Error::NotFound`].
    pub async fn deliver_to(
        &self,
        kind: Kind,
        name: &str,
        message_id: &str,
        book: EventBook,
    ) -> Result<Delivered> {
        let domain = AggregateKey::from_book(&book)?.domain;
        let handler = match kind {
            Kind::Projector => self
                .projectors
                .iter()
                .map(Handler::Projector)
                .find(|h| h.name() == name),
            Kind::Saga => self
                .sagas
                .iter()
                .map(Handler::Saga)
                .find(|h| h.name() == name),
            Kind::ProcessManager => self
                .process_managers
                .iter()
                .map(Handler::Process)
                .find(|h| h.name() == name),
            Kind::Aggregate | Kind::Upcaster => {
                return Err(Error::invalid_argument(format!(
                    "`{name}`: only projectors, sagas and process managers receive deliveries"
                )));
            }
        };
        let handler = handler.ok_or_else(|| {
            let kind = match kind {
                Kind::Saga => "saga",
                Kind::ProcessManager => "process manager",
                _ => "projector",
            };
            Error::NotFound(format!("no {kind} `{name}` is hosted here"))
        })?;
        self.run(handler, message_id, &domain, book).await
    }

    /// `handler`'s delivery of `book` (of `domain`), through the firing
    /// guard, counted.
    async fn run(
        &self,
        handler: Handler<'_>,
        message_id: &str,
        domain: &str,
        book: EventBook,
    ) -> Result<Delivered> {
        let name = handler.name();
        if !handler.wants(domain) {
            return Ok(self.skipped(name, message_id, domain));
        }
        let outcome = match handler {
            Handler::Projector(entry) => self
                .projector_dispatch
                .deliver(entry.handler.as_ref(), book)
                .await
                .map(|guarded| done(guarded, |_| ())),
            Handler::Saga(entry) => self
                .saga_dispatch
                .deliver(entry.handler.as_ref(), book)
                .await
                .map(|guarded| {
                    done(guarded, |outcome| {
                        let sent = outcome.sent.len() as u64;
                        let dead = outcome.dead_lettered as u64;
                        self.stats.update(name, |c| {
                            c.commands_sent += sent;
                            c.dead_lettered += dead;
                        });
                    })
                }),
            Handler::Process(entry) => match &self.process_dispatch {
                None => Err(Error::Unsupported {
                    backend: "triggers".into(),
                    operation: format!(
                        "delivering to process manager `{name}` without an event store for its \
                         state (build the triggers with Triggers::from_adapters)"
                    )
                    .into(),
                }),
                Some(dispatch) => dispatch
                    .deliver(entry.handler.as_ref(), entry.max_destinations, book)
                    .await
                    .map(|guarded| {
                        done(guarded, |outcome| {
                            let events = outcome
                                .decision
                                .process_events
                                .as_ref()
                                .map_or(0, |b| b.pages.len() as u64);
                            let sent = outcome.sent.len() as u64;
                            let dead = outcome.dead_lettered as u64;
                            self.stats.update(name, |c| {
                                c.commands_sent += sent;
                                c.dead_lettered += dead;
                                c.process_events += events;
                            });
                        })
                    }),
            },
        };
        self.record(name, message_id, outcome)
    }

    fn skipped(&self, name: &str, message_id: &str, domain: &str) -> Delivered {
        tracing::info!(
            handler = name,
            message_id,
            domain,
            "delivery of a domain this handler does not read; acknowledged"
        );
        self.stats.update(name, |c| c.skipped += 1);
        Delivered::Skipped
    }

    fn record(
        &self,
        name: &str,
        message_id: &str,
        outcome: Result<Guarded<()>>,
    ) -> Result<Delivered> {
        match outcome {
            Ok(Guarded::Done(())) => {
                tracing::info!(handler = name, message_id, "delivery handled");
                self.stats.update(name, |c| c.done += 1);
                Ok(Delivered::Done)
            }
            Ok(Guarded::Duplicate) => {
                tracing::info!(
                    handler = name,
                    message_id,
                    "duplicate delivery; no second effect"
                );
                self.stats.update(name, |c| c.duplicates += 1);
                Ok(Delivered::Duplicate)
            }
            Err(error) => {
                self.stats.update(name, |c| c.failed += 1);
                Err(error)
            }
        }
    }
}

/// `guarded`'s work, if done now, through `f`.
fn done<T>(guarded: Guarded<T>, f: impl FnOnce(T)) -> Guarded<()> {
    match guarded {
        Guarded::Done(value) => {
            f(value);
            Guarded::Done(())
        }
        Guarded::Duplicate => Guarded::Duplicate,
    }
}

/// A projector, saga or process manager of [`Triggers`].
#[derive(Clone, Copy)]
enum Handler<'a> {
    Projector(&'a Subscribed<dyn Projector>),
    Saga(&'a Subscribed<dyn Saga>),
    Process(&'a Subscribed<dyn ProcessManager>),
}

impl Handler<'_> {
    fn name(&self) -> &str {
        match self {
            Handler::Projector(entry) => entry.handler.name(),
            Handler::Saga(entry) => entry.handler.name(),
            Handler::Process(entry) => entry.handler.name(),
        }
    }

    fn wants(&self, domain: &str) -> bool {
        match self {
            Handler::Projector(entry) => entry.wants(domain),
            Handler::Saga(entry) => entry.wants(domain),
            // Never its own state's events: it would trigger itself.
            Handler::Process(entry) => domain != entry.handler.name() && entry.wants(domain),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use angzarr_core::memory::MemoryFiringGuard;
    use angzarr_core::proto::{CommandRequest, CommandResponse, Projection};
    use angzarr_runtime::MemoryDeadLetters;

    use super::*;

    #[derive(Debug, Default)]
    struct Counting {
        applied: AtomicUsize,
        failing: AtomicBool,
    }

    #[async_trait::async_trait]
    impl Projector for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn handle(&self, book: EventBook) -> Result<Projection> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(Error::unavailable("read model", "down"));
            }
            self.applied.fetch_add(1, Ordering::SeqCst);
            Ok(Projection {
                cover: book.cover,
                ..Default::default()
            })
        }
    }

    #[derive(Debug)]
    struct NoCommands;

    #[async_trait::async_trait]
    impl CommandRouter for NoCommands {
        async fn send(&self, _: CommandRequest) -> Result<CommandResponse> {
            Err(Error::invalid_argument("no commands here"))
        }
    }

    fn book(domain: &str, next: u32) -> EventBook {
        let key = AggregateKey::new(domain, uuid::Uuid::new_v4()).unwrap();
        EventBook {
            cover: Some(key.cover("c")),
            next_sequence: next,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn one_path_filters_guards_and_counts_every_delivery() {
        let projector = Arc::new(Counting::default());
        let triggers = Triggers::new(
            Arc::new(MemoryFiringGuard::new()),
            FiringPolicy::default(),
            Arc::new(NoCommands),
            Arc::new(MemoryDeadLetters::new()),
        )
        .projector(Subscribed::new(projector.clone(), ["cart"]));
        let cart = book("cart", 1);

        let by_name = triggers.deliver_to(Kind::Projector, "counting", "m1", cart.clone());
        assert_eq!(by_name.await.unwrap(), Delivered::Done);
        let report = triggers.deliver("m1", cart.clone()).await.unwrap();
        assert_eq!(report.duplicates, vec!["counting".to_owned()]);
        let other = triggers.deliver_to(Kind::Projector, "counting", "m2", book("order", 1));
        assert_eq!(other.await.unwrap(), Delivered::Skipped);

        projector.failing.store(true, Ordering::SeqCst);
        let failed = triggers.deliver("m3", book("cart", 2)).await;
        assert!(failed.unwrap_err().is_retriable());

        let unknown = triggers
            .deliver_to(Kind::Saga, "counting", "m4", cart)
            .await;
        assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");

        assert_eq!(projector.applied.load(Ordering::SeqCst), 1);
        let counts = triggers.stats().get("counting");
        assert_eq!(
            (
                counts.done,
                counts.duplicates,
                counts.skipped,
                counts.failed
            ),
            (1, 1, 1, 1)
        );
    }
}
