//! Delivering event books to projectors and sagas (and, in [`crate::process`],
//! process managers), once in effect.
//!
//! Deliveries are at least once. Each goes through the firing guard, keyed by
//! the handler's name and the book's identity
//! ([`angzarr_core::guard::firing_key`]), so a duplicate has no second effect.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::FiringGuardConfig;
use angzarr_core::guard::firing_key;
use angzarr_core::proto::angzarr_dead_letter::Payload;
use angzarr_core::proto::page_header::SequenceType;
use angzarr_core::proto::{
    AngzarrDeadLetter, CommandBook, CommandRequest, CommandResponse, Cover, Edition, EventBook,
    EventRequest, ExternalDeferredSequence, FactInjectionResponse, PageHeader, Projection,
    SagaHandleRequest, SagaResponse, SyncMode,
};
use angzarr_core::{Acquisition, Error, FiringGuard, Result};
use tracing::{info, warn};

use crate::dead_letter::DeadLetterSink;
use crate::logic::{Projector, Saga};
use crate::router::CommandRouter;

/// The outcome of a guarded delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Guarded<T> {
    /// The work was done now.
    Done(T),
    /// The work had been done before: this delivery was a duplicate.
    Duplicate,
}

/// How long deliveries hold and remember their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiringPolicy {
    /// How long one delivery may work before another may take over.
    pub lease: Duration,
    /// How long a completed delivery is remembered.
    pub retention: Duration,
}

impl Default for FiringPolicy {
    fn default() -> Self {
        Self::from(&FiringGuardConfig::default())
    }
}

impl From<&FiringGuardConfig> for FiringPolicy {
    fn from(config: &FiringGuardConfig) -> Self {
        Self {
            lease: Duration::from_secs(config.lease_secs),
            retention: Duration::from_secs(config.retention_secs),
        }
    }
}

/// Keys of a handler's commands or facts, derived from their content: the
/// SHA-256 of the encoded message (32 hex digits), then how many identical
/// ones came before it in the same answer, so that two equal commands stay
/// two and a reordered answer keeps every key.
#[derive(Debug, Default)]
struct ContentKeys(std::collections::HashMap<String, u32>);

impl ContentKeys {
    fn key(&mut self, message: &impl prost::Message) -> String {
        let digest = angzarr_core::payload::content_hash(&message.encode_to_vec());
        let mut hash = angzarr_core::payload::hex(&digest);
        hash.truncate(32);
        let before = self.0.entry(hash.clone()).or_default();
        let key = format!("{hash}.{before}");
        *before += 1;
        key
    }
}

/// Runs `work` at most once per `key` (per retention): `Duplicate` when it
/// was done before; a retriable error while another instance holds the key;
/// on failure the key is released so a redelivery can try again.
pub async fn run_once<T, F>(
    guard: &dyn FiringGuard,
    policy: FiringPolicy,
    key: &str,
    work: F,
) -> Result<Guarded<T>>
where
    F: Future<Output = Result<T>>,
{
    let lease = match guard.acquire(key, policy.lease).await? {
        Acquisition::Acquired(lease) => lease,
        Acquisition::Completed => return Ok(Guarded::Duplicate),
        Acquisition::InProgress { expires_in } => {
            return Err(Error::unavailable(
                "firing guard",
                format!("`{key}` is being processed elsewhere; its lease ends in {expires_in:?}"),
            ));
        }
    };
    match renewing(guard, policy.lease, &lease, work).await {
        Ok(value) => {
            guard.complete(&lease, policy.retention).await?;
            Ok(Guarded::Done(value))
        }
        Err(error) => {
            if let Err(release_error) = guard.release(&lease).await {
                warn!(key, %release_error, "releasing a failed delivery's key failed");
            }
            Err(error)
        }
    }
}

/// Runs `work`, renewing `lease` for another `duration` every third of it
/// while the work goes on, so that a delivery slower than one lease is not
/// taken over by a redelivery and done twice. A failed renewal is logged:
/// the work goes on, and its completion then reports the lost lease.
async fn renewing<T, F>(
    guard: &dyn FiringGuard,
    duration: std::time::Duration,
    lease: &angzarr_core::Lease,
    work: F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let every = (duration / 3).max(std::time::Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = ticks.tick() => {
                if let Err(error) = guard.renew(lease, duration).await {
                    warn!(key = %lease.key, %error, "renewing a delivery's lease failed");
                }
            }
        }
    }
}

/// Delivers books to projectors.
#[derive(Debug)]
pub struct ProjectorDispatch {
    guard: Arc<dyn FiringGuard>,
    policy: FiringPolicy,
}

impl ProjectorDispatch {
    /// Dispatch through `guard`.
    pub fn new(guard: Arc<dyn FiringGuard>, policy: FiringPolicy) -> Self {
        Self { guard, policy }
    }

    /// Delivers `book` to `projector` once; returns its projection.
    pub async fn deliver(
        &self,
        projector: &dyn Projector,
        book: EventBook,
    ) -> Result<Guarded<Projection>> {
        let key = firing_key(projector.name(), &book)?;
        run_once(
            self.guard.as_ref(),
            self.policy,
            &key,
            projector.handle(book),
        )
        .await
    }
}

/// What a saga delivery did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SagaOutcome {
    /// What the saga answered.
    pub response: SagaResponse,
    /// Answers of the commands sent now (commands sent by an earlier,
    /// failed delivery are not sent again).
    pub sent: Vec<CommandResponse>,
    /// Answers of the facts (the saga's `events`) injected now.
    pub facts: Vec<FactInjectionResponse>,
    /// Commands and facts that could not be delivered and went to the dead
    /// letters.
    pub dead_lettered: usize,
}

/// Delivers books to sagas and routes the commands they answer.
#[derive(Debug)]
pub struct SagaDispatch {
    outbound: Outbound,
}

impl SagaDispatch {
    /// Dispatch through `guard`, sending commands through `router`, and
    /// commands that cannot be delivered to `dead_letters`.
    pub fn new(
        guard: Arc<dyn FiringGuard>,
        policy: FiringPolicy,
        router: Arc<dyn CommandRouter>,
        dead_letters: Arc<dyn DeadLetterSink>,
    ) -> Self {
        Self {
            outbound: Outbound {
                guard,
                policy,
                router,
                dead_letters,
            },
        }
    }

    /// Delivers `book` to `saga` once, and sends its commands, each at most
    /// once: a redelivery after a partial failure skips the commands already
    /// sent. Commands keep the source book's correlation id and edition. A
    /// command its target refuses for good (unknown domain, rejection, bad
    /// input) becomes a dead letter; a retriable failure fails the delivery,
    /// to be retried. The saga's `events` are facts, injected into their
    /// aggregates ([`crate::AggregateCoordinator::inject`]) the same way.
    pub async fn deliver(&self, saga: &dyn Saga, book: EventBook) -> Result<Guarded<SagaOutcome>> {
        let key = firing_key(saga.name(), &book)?;
        run_once(
            self.outbound.guard.as_ref(),
            self.outbound.policy,
            &key,
            self.run(saga, &key, book),
        )
        .await
    }

    /// What `saga` answers for `request`, sending nothing
    /// (`SagaCoordinatorService/ExecuteSpeculative`).
    pub async fn speculate(
        &self,
        saga: &dyn Saga,
        request: SagaHandleRequest,
    ) -> Result<SagaResponse> {
        saga.handle(request).await
    }

    async fn run(&self, saga: &dyn Saga, key: &str, book: EventBook) -> Result<SagaOutcome> {
        let source = Origin::of(saga.name(), "saga", key, &book);
        let response = saga
            .handle(SagaHandleRequest {
                source: Some(book),
                sync_mode: SyncMode::Async as i32,
                ..Default::default()
            })
            .await?;
        let (sent, dead_commands) = self
            .outbound
            .send_commands(&source, response.commands.clone())
            .await?;
        let (facts, dead_facts) = self
            .outbound
            .inject_facts(&source, response.events.clone())
            .await?;
        Ok(SagaOutcome {
            response,
            sent,
            facts,
            dead_lettered: dead_commands + dead_facts,
        })
    }
}

/// Where the commands and facts of one delivery come from: the handler, and
/// the correlation id and edition they inherit.
#[derive(Clone, Debug)]
pub(crate) struct Origin<'a> {
    /// The handler's name.
    pub name: &'a str,
    /// `saga` or `process_manager`, in dead letters.
    pub kind: &'a str,
    /// The delivery's firing key: the prefix of its commands' and facts' keys.
    pub key: &'a str,
    pub correlation_id: String,
    pub edition: Option<Edition>,
}

impl<'a> Origin<'a> {
    pub fn of(name: &'a str, kind: &'a str, key: &'a str, book: &EventBook) -> Self {
        Self {
            name,
            kind,
            key,
            correlation_id: book
                .cover
                .as_ref()
                .map(|c| c.correlation_id.clone())
                .unwrap_or_default(),
            // A handler's commands stay on the source's timeline.
            edition: book.cover.as_ref().and_then(|c| c.edition.clone()),
        }
    }

    fn stamp(&self, cover: &mut Cover) {
        cover.correlation_id.clone_from(&self.correlation_id);
        if self.edition.is_some() {
            cover.edition.clone_from(&self.edition);
        }
    }
}

/// Sends a handler's commands and injects its facts, each at most once per
/// delivery, dead-lettering what is refused for good.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub guard: Arc<dyn FiringGuard>,
    pub policy: FiringPolicy,
    pub router: Arc<dyn CommandRouter>,
    pub dead_letters: Arc<dyn DeadLetterSink>,
}

impl Outbound {
    /// Sends `commands`, each keyed `{key}/command/{index}`; answers the
    /// responses of those sent now and how many went to the dead letters.
    pub async fn send_commands(
        &self,
        origin: &Origin<'_>,
        commands: Vec<CommandBook>,
    ) -> Result<(Vec<CommandResponse>, usize)> {
        let mut sent = Vec::new();
        let mut dead = 0;
        let mut seen = ContentKeys::default();
        for mut command in commands {
            if let Some(cover) = command.cover.as_mut() {
                origin.stamp(cover);
            }
            let request = CommandRequest {
                command: Some(command.clone()),
                ..Default::default()
            };
            // Keyed by what the command is, not where it is in the answer: a
            // redelivery whose handler answers the same commands in another
            // order sends none of them twice.
            let command_key = format!("{}/command/{}", origin.key, seen.key(&command));
            let outcome = run_once(self.guard.as_ref(), self.policy, &command_key, async {
                match self.router.send(request).await {
                    Ok(response) => Ok(Some(response)),
                    Err(error) if error.is_retriable() => Err(error),
                    Err(error) => {
                        self.dead_letter(
                            origin,
                            Payload::RejectedCommand(command.clone()),
                            command.cover.clone(),
                            &error,
                        )
                        .await?;
                        Ok(None)
                    }
                }
            })
            .await?;
            match outcome {
                Guarded::Done(Some(response)) => sent.push(response),
                Guarded::Done(None) => dead += 1,
                Guarded::Duplicate => {}
            }
        }
        Ok((sent, dead))
    }

    /// Injects `facts` (books of events for other aggregates). A page with
    /// no sequence header gets an `external_deferred` one whose id is
    /// `{key}/fact/{book}/{page}`, so that a redelivery injects nothing twice.
    pub async fn inject_facts(
        &self,
        origin: &Origin<'_>,
        facts: Vec<EventBook>,
    ) -> Result<(Vec<FactInjectionResponse>, usize)> {
        let mut injected = Vec::new();
        let mut dead = 0;
        let mut seen = ContentKeys::default();
        for mut fact in facts {
            // Keyed by content, as commands are (before any header is added).
            let fact_key = seen.key(&fact);
            if let Some(cover) = fact.cover.as_mut() {
                if cover.correlation_id.is_empty() {
                    cover.correlation_id.clone_from(&origin.correlation_id);
                }
                if cover.edition.is_none() {
                    cover.edition.clone_from(&origin.edition);
                }
            }
            for (page_index, page) in fact.pages.iter_mut().enumerate() {
                if page
                    .header
                    .as_ref()
                    .is_none_or(|h| h.sequence_type.is_none())
                {
                    page.header = Some(PageHeader {
                        sequence_type: Some(SequenceType::ExternalDeferred(
                            ExternalDeferredSequence {
                                external_id: format!("{}/fact/{fact_key}/{page_index}", origin.key),
                                description: format!("a fact of {} `{}`", origin.kind, origin.name),
                            },
                        )),
                    });
                }
            }
            let request = EventRequest {
                events: Some(fact.clone()),
                ..Default::default()
            };
            match self.router.inject(request).await {
                Ok(response) => injected.push(response),
                Err(error) if error.is_retriable() => return Err(error),
                Err(error) => {
                    self.dead_letter(
                        origin,
                        Payload::RejectedEvents(fact.clone()),
                        fact.cover.clone(),
                        &error,
                    )
                    .await?;
                    dead += 1;
                }
            }
        }
        Ok((injected, dead))
    }

    /// Sends `error`'s reason for `payload` to the dead letters, as from
    /// `origin`.
    pub async fn dead_letter(
        &self,
        origin: &Origin<'_>,
        payload: Payload,
        cover: Option<Cover>,
        error: &Error,
    ) -> Result<()> {
        info!(handler = origin.name, kind = origin.kind, %error, "sent to the dead letters");
        self.dead_letters
            .send(AngzarrDeadLetter {
                cover,
                payload: Some(payload),
                rejection_reason: error.to_string(),
                occurred_at: Some(std::time::SystemTime::now().into()),
                metadata: [("error_code".to_owned(), error.code().as_str().to_owned())]
                    .into_iter()
                    .collect(),
                source_component: origin.name.to_owned(),
                source_component_type: origin.kind.to_owned(),
                ..Default::default()
            })
            .await
    }
}
