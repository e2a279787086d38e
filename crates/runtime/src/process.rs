//! Delivering triggers to process managers.
//!
//! A process manager's state is an aggregate of its own: domain = the
//! process manager's name, root = [`state_root`] of the trigger's
//! correlation id (as the published client libraries compute it), on the
//! trigger's edition. One delivery, once in effect through the firing guard:
//!
//! 1. load the state; `Prepare` names destination covers — more than the
//!    configured limit, or one of the process manager's own domain, and the
//!    trigger is refused: dead-lettered with the reason, nothing sent;
//! 2. read each destination's next sequence; `Handle` decides;
//! 3. append the `process_events` to the state at the sequence it was read
//!    at (a concurrent delivery for the same correlation id makes this a
//!    conflict: everything is redone on the new state, nothing was sent
//!    yet), and publish them;
//! 4. send the `commands` like a saga's, and inject the `facts`.
//!
//! The appended events carry the delivery's firing key as their
//! `cascade_id`, so a redelivery after a failure in step 3 or 4 finds its
//! decision recorded: it decides again on the state before it (the same
//! input), appends nothing, publishes the recorded events again and sends
//! only what was not sent.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_core::guard::firing_key;
use angzarr_core::proto::angzarr_dead_letter::Payload;
use angzarr_core::proto::{
    CommandResponse, EventBook, FactInjectionResponse, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest,
};
use angzarr_core::store::{page_sequence, prepare_append};
use angzarr_core::{
    AggregateKey, Error, EventBus, EventStore, EventStoreExt, FiringGuard, LoadRange, Result,
    Timelines,
};
use tracing::info;

use crate::dead_letter::DeadLetterSink;
use crate::dispatch::{FiringPolicy, Guarded, Origin, Outbound, run_once};
use crate::logic::ProcessManager;
use crate::retry::RetryPolicy;
use crate::router::CommandRouter;

/// How many destinations one `Prepare` may name, unless configured.
pub const DEFAULT_MAX_DESTINATIONS: usize = 16;

/// The delivery key of a speculation: no recorded decision carries it.
const SPECULATIVE: &str = "speculative";

/// The root of a process manager's state for a correlation id:
/// UUIDv5(OID, `"angzarr" + name + correlation_id`), the published client
/// libraries' `compute_root(name, correlation_id)`.
pub fn state_root(name: &str, correlation_id: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("angzarr{name}{correlation_id}").as_bytes(),
    )
}

/// What one process-manager delivery did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessOutcome {
    /// The decision (empty when refused or without a correlation id).
    pub decision: ProcessManagerHandleResponse,
    /// Why the trigger was refused (dead-lettered, nothing sent), if it was.
    pub refused: Option<String>,
    /// Answers of the commands sent now.
    pub sent: Vec<CommandResponse>,
    /// Answers of the facts injected now.
    pub facts: Vec<FactInjectionResponse>,
    /// Commands and facts refused for good, kept as dead letters.
    pub dead_lettered: usize,
}

/// Delivers triggers to process managers: their state loaded and appended,
/// their commands sent and facts injected.
#[derive(Debug)]
pub struct ProcessManagerDispatch {
    outbound: Outbound,
    store: Timelines,
    correlations: angzarr_core::Correlations,
    bus: Arc<dyn EventBus>,
    retry: RetryPolicy,
    max_destinations: usize,
}

/// A decision, or the reason there is none.
enum Decided {
    Refused(String),
    Made {
        decision: Box<ProcessManagerHandleResponse>,
        /// The state's next sequence before the decision.
        expected: u32,
        /// The decision's events as recorded by an earlier attempt.
        recorded: Vec<angzarr_core::proto::EventPage>,
    },
}

impl ProcessManagerDispatch {
    /// Dispatch through `guard`, keeping state in `store` (published on
    /// `bus`), sending commands and facts through `router`, and what is
    /// refused for good to `dead_letters`.
    pub fn new(
        guard: Arc<dyn FiringGuard>,
        policy: FiringPolicy,
        router: Arc<dyn CommandRouter>,
        dead_letters: Arc<dyn DeadLetterSink>,
        store: Arc<dyn EventStore>,
        bus: Arc<dyn EventBus>,
    ) -> Self {
        Self {
            outbound: Outbound {
                guard,
                policy,
                router,
                dead_letters,
            },
            correlations: angzarr_core::Correlations::new(store.clone()),
            store: Timelines::new(store),
            bus,
            retry: RetryPolicy::default(),
            max_destinations: DEFAULT_MAX_DESTINATIONS,
        }
    }

    /// Refuses triggers whose `Prepare` names more than `max` destinations,
    /// unless a delivery says otherwise.
    pub fn max_destinations(mut self, max: usize) -> Self {
        self.max_destinations = max;
        self
    }

    /// How often a decision is redone after a concurrent delivery for the
    /// same correlation id changed the state.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The key of `pm`'s state for `trigger`: `None` when the trigger has no
    /// correlation id (a process manager follows one workflow).
    pub fn state_key(pm: &dyn ProcessManager, trigger: &EventBook) -> Result<Option<AggregateKey>> {
        let cover = trigger
            .cover
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("a trigger has no cover"))?;
        if cover.correlation_id.is_empty() {
            return Ok(None);
        }
        let key = AggregateKey::new(pm.name(), state_root(pm.name(), &cover.correlation_id))?;
        match &cover.edition {
            Some(edition) => key.in_edition(&edition.name).map(Some),
            None => Ok(Some(key)),
        }
    }

    /// Delivers `trigger` to `pm` once (see the module's documentation),
    /// refusing more than `max_destinations` (default: the dispatch's).
    /// A trigger without a correlation id is acknowledged without running
    /// the process manager.
    pub async fn deliver(
        &self,
        pm: &dyn ProcessManager,
        max_destinations: Option<usize>,
        trigger: EventBook,
    ) -> Result<Guarded<ProcessOutcome>> {
        let key = firing_key(pm.name(), &trigger)?;
        let limit = max_destinations.unwrap_or(self.max_destinations);
        run_once(
            self.outbound.guard.as_ref(),
            self.outbound.policy,
            &key,
            self.run(pm, limit, &key, trigger),
        )
        .await
    }

    /// What `pm` decides for `request`, storing and sending nothing
    /// (`ProcessManagerCoordinatorService/HandleSpeculative`). With a
    /// `process_state`, `pm` decides on it and the request's destination
    /// sequences, as given; without one, on the stored state of the
    /// trigger's correlation id and the destinations its `Prepare` names, as
    /// a delivery would (the same limits refuse, as INVALID_ARGUMENT).
    pub async fn speculate(
        &self,
        pm: &dyn ProcessManager,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse> {
        if request.process_state.is_some() {
            return pm.handle(request).await;
        }
        let trigger = request
            .trigger
            .ok_or_else(|| Error::invalid_argument("a speculative request has no trigger"))?;
        let Some(state_key) = Self::state_key(pm, &trigger)? else {
            return Err(Error::invalid_argument(
                "a speculative trigger without a process state needs a correlation id",
            ));
        };
        let origin = Origin::of(pm.name(), "process_manager", SPECULATIVE, &trigger);
        let limit = self.max_destinations;
        match self
            .decide(pm, limit, SPECULATIVE, &trigger, &state_key, &origin)
            .await?
        {
            Decided::Made { decision, .. } => Ok(*decision),
            Decided::Refused(reason) => Err(Error::invalid_argument(reason)),
        }
    }

    async fn run(
        &self,
        pm: &dyn ProcessManager,
        limit: usize,
        key: &str,
        trigger: EventBook,
    ) -> Result<ProcessOutcome> {
        let Some(state_key) = Self::state_key(pm, &trigger)? else {
            info!(
                process_manager = pm.name(),
                "trigger without a correlation id; acknowledged"
            );
            return Ok(ProcessOutcome::default());
        };
        let origin = Origin::of(pm.name(), "process_manager", key, &trigger);
        let mut attempt = 0;
        let decision = loop {
            let (decision, expected, recorded) = match self
                .decide(pm, limit, key, &trigger, &state_key, &origin)
                .await?
            {
                Decided::Refused(reason) => {
                    let error = Error::invalid_argument(reason.clone());
                    self.outbound
                        .dead_letter(
                            &origin,
                            Payload::RejectedEvents(trigger.clone()),
                            trigger.cover.clone(),
                            &error,
                        )
                        .await?;
                    return Ok(ProcessOutcome {
                        refused: Some(reason),
                        dead_lettered: 1,
                        ..Default::default()
                    });
                }
                Decided::Made {
                    decision,
                    expected,
                    recorded,
                } => (decision, expected, recorded),
            };
            let mut pages = recorded;
            if pages.is_empty() {
                pages = decision
                    .process_events
                    .as_ref()
                    .map(|book| book.pages.clone())
                    .unwrap_or_default();
                for page in &mut pages {
                    page.cascade_id = Some(key.to_owned());
                }
                if !pages.is_empty() {
                    // Checked against the bus before it is stored, as
                    // stamped.
                    angzarr_core::bus::check_fits(
                        self.bus.as_ref(),
                        &EventBook {
                            cover: Some(state_key.cover(origin.correlation_id.clone())),
                            snapshot: None,
                            pages: prepare_append(
                                &state_key,
                                expected,
                                pages.clone(),
                                self.store.limits(),
                            )?,
                            next_sequence: expected,
                        },
                    )?;
                    match self.store.append(&state_key, expected, pages.clone()).await {
                        Ok(_) => {
                            pages = self
                                .store
                                .load(
                                    &state_key,
                                    LoadRange::between(expected, expected + pages.len() as u32),
                                )
                                .await?;
                        }
                        Err(Error::SequenceConflict { .. })
                            if attempt + 1 < self.retry.max_attempts =>
                        {
                            tokio::time::sleep(self.retry.delay(attempt)).await;
                            attempt += 1;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            if !pages.is_empty() {
                let next = pages
                    .last()
                    .and_then(page_sequence)
                    .map_or(expected, |s| s + 1);
                let first = pages.first().and_then(page_sequence).unwrap_or(expected);
                self.correlations
                    .record(
                        &origin.correlation_id,
                        &state_key,
                        first,
                        next.saturating_sub(1),
                    )
                    .await?;
                self.bus
                    .publish(&EventBook {
                        cover: Some(state_key.cover(origin.correlation_id.clone())),
                        snapshot: None,
                        pages,
                        next_sequence: next,
                    })
                    .await?;
            }
            break *decision;
        };
        let (sent, dead_commands) = self
            .outbound
            .send_commands(&origin, decision.commands.clone())
            .await?;
        let (facts, dead_facts) = self
            .outbound
            .inject_facts(&origin, decision.facts.clone())
            .await?;
        Ok(ProcessOutcome {
            decision,
            refused: None,
            sent,
            facts,
            dead_lettered: dead_commands + dead_facts,
        })
    }

    /// Loads the state and asks `pm` to decide on it: before this
    /// delivery's recorded events, if an earlier attempt recorded some.
    async fn decide(
        &self,
        pm: &dyn ProcessManager,
        limit: usize,
        key: &str,
        trigger: &EventBook,
        state_key: &AggregateKey,
        origin: &Origin<'_>,
    ) -> Result<Decided> {
        let mut state = self.store.load_book(state_key, LoadRange::all()).await?;
        state.cover = Some(state_key.cover(origin.correlation_id.clone()));
        let recorded_at = state
            .pages
            .iter()
            .position(|page| page.cascade_id.as_deref() == Some(key));
        let recorded = match recorded_at {
            Some(at) => {
                let recorded = state.pages.split_off(at);
                state.next_sequence = recorded
                    .first()
                    .and_then(page_sequence)
                    .unwrap_or(state.next_sequence);
                recorded
                    .into_iter()
                    .take_while(|page| page.cascade_id.as_deref() == Some(key))
                    .collect()
            }
            None => Vec::new(),
        };
        let prepared = pm
            .prepare(ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: Some(state.clone()),
            })
            .await?;
        if prepared.destinations.len() > limit {
            return Ok(Decided::Refused(format!(
                "process manager `{}` named {} destinations; at most {limit} are allowed",
                pm.name(),
                prepared.destinations.len(),
            )));
        }
        let mut destination_sequences = HashMap::new();
        for cover in &prepared.destinations {
            if cover.domain == pm.name() {
                return Ok(Decided::Refused(format!(
                    "process manager `{}` named a destination in its own domain; \
                     its state is loaded for it",
                    pm.name()
                )));
            }
            let mut cover = cover.clone();
            if cover.edition.is_none() {
                cover.edition.clone_from(&origin.edition);
            }
            let destination = match AggregateKey::from_cover(&cover) {
                Ok(destination) => destination,
                Err(error) => {
                    return Ok(Decided::Refused(format!(
                        "process manager `{}` named a destination that is no aggregate: {error}",
                        pm.name()
                    )));
                }
            };
            let next = self.store.next_sequence(&destination).await?;
            destination_sequences.insert(destination.domain.clone(), next);
        }
        let expected = state.next_sequence;
        let decision = pm
            .handle(ProcessManagerHandleRequest {
                trigger: Some(trigger.clone()),
                process_state: Some(state),
                destination_sequences,
            })
            .await?;
        Ok(Decided::Made {
            decision: Box::new(decision),
            expected,
            recorded,
        })
    }
}
