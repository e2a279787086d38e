//! Delivering event books to projectors and sagas, once in effect.
//!
//! Deliveries are at least once. Each goes through the firing guard, keyed by
//! the handler's name and the book's identity
//! ([`angzarr_core::guard::firing_key`]), so a duplicate has no second effect.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::FiringGuardConfig;
use angzarr_core::guard::firing_key;
use angzarr_core::proto::{
    AngzarrDeadLetter, CommandRequest, CommandResponse, EventBook, Projection, SagaHandleRequest,
    SyncMode,
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
    match work.await {
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
    /// Answers of the commands sent now (commands sent by an earlier,
    /// failed delivery are not sent again).
    pub sent: Vec<CommandResponse>,
    /// Commands that could not be delivered and went to the dead letters.
    pub dead_lettered: usize,
}

/// Delivers books to sagas and routes the commands they answer.
#[derive(Debug)]
pub struct SagaDispatch {
    guard: Arc<dyn FiringGuard>,
    policy: FiringPolicy,
    router: Arc<dyn CommandRouter>,
    dead_letters: Arc<dyn DeadLetterSink>,
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
            guard,
            policy,
            router,
            dead_letters,
        }
    }

    /// Delivers `book` to `saga` once, and sends its commands, each at most
    /// once: a redelivery after a partial failure skips the commands already
    /// sent. Commands keep the source book's correlation id. A command its
    /// target refuses for good (unknown domain, rejection, bad input) becomes
    /// a dead letter; a retriable failure fails the delivery, to be retried.
    pub async fn deliver(&self, saga: &dyn Saga, book: EventBook) -> Result<Guarded<SagaOutcome>> {
        let key = firing_key(saga.name(), &book)?;
        run_once(
            self.guard.as_ref(),
            self.policy,
            &key,
            self.run(saga, &key, book),
        )
        .await
    }

    async fn run(&self, saga: &dyn Saga, key: &str, book: EventBook) -> Result<SagaOutcome> {
        let correlation_id = book
            .cover
            .as_ref()
            .map(|c| c.correlation_id.clone())
            .unwrap_or_default();
        // A saga's commands stay on the source's timeline.
        let edition = book.cover.as_ref().and_then(|c| c.edition.clone());
        let response = saga
            .handle(SagaHandleRequest {
                source: Some(book.clone()),
                sync_mode: SyncMode::Async as i32,
                ..Default::default()
            })
            .await?;
        if !response.events.is_empty() {
            warn!(
                saga = saga.name(),
                "saga returned events of its own; they are not stored"
            );
        }
        let mut outcome = SagaOutcome::default();
        for (index, mut command) in response.commands.into_iter().enumerate() {
            if let Some(cover) = command.cover.as_mut() {
                cover.correlation_id.clone_from(&correlation_id);
                if edition.is_some() {
                    cover.edition.clone_from(&edition);
                }
            }
            let request = CommandRequest {
                command: Some(command.clone()),
                ..Default::default()
            };
            let command_key = format!("{key}/command/{index}");
            let sent = run_once(self.guard.as_ref(), self.policy, &command_key, async {
                match self.router.send(request).await {
                    Ok(response) => Ok(Some(response)),
                    Err(error) if error.is_retriable() => Err(error),
                    Err(error) => {
                        self.dead_letter(saga.name(), &command, &error).await?;
                        Ok(None)
                    }
                }
            })
            .await?;
            match sent {
                Guarded::Done(Some(response)) => outcome.sent.push(response),
                Guarded::Done(None) => outcome.dead_lettered += 1,
                Guarded::Duplicate => {}
            }
        }
        Ok(outcome)
    }

    async fn dead_letter(
        &self,
        saga: &str,
        command: &angzarr_core::proto::CommandBook,
        error: &Error,
    ) -> Result<()> {
        info!(saga, %error, "saga command sent to the dead letters");
        self.dead_letters
            .send(AngzarrDeadLetter {
                cover: command.cover.clone(),
                payload: Some(
                    angzarr_core::proto::angzarr_dead_letter::Payload::RejectedCommand(
                        command.clone(),
                    ),
                ),
                rejection_reason: error.to_string(),
                occurred_at: Some(std::time::SystemTime::now().into()),
                metadata: [("error_code".to_owned(), error.code().as_str().to_owned())]
                    .into_iter()
                    .collect(),
                source_component: saga.to_owned(),
                source_component_type: "saga".to_owned(),
                ..Default::default()
            })
            .await
    }
}
