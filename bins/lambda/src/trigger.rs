//! The trigger functions: an SQS or Kinesis event in, each book delivered
//! through the firing guard to the projectors or sagas subscribed to its
//! domain, and `batchItemFailures` out.
//!
//! A record fails when it cannot be decoded (reported with its id, the rest
//! of the batch is still processed) or when a handler fails (business logic,
//! a store): Lambda then makes that record visible again (SQS) or retries
//! the shard from it (Kinesis). On FIFO queues and Kinesis the batch stops at
//! the first failure so nothing overtakes a failed book. Every delivery is
//! keyed by handler and book ([`angzarr_core::guard::firing_key`]), so a
//! record delivered twice has one effect, and a retried record redoes only
//! the handlers that had not finished.

use std::sync::Arc;

use angzarr_core::proto::EventBook;
use angzarr_core::{AggregateKey, Error, FiringGuard, Result};
pub use angzarr_host::Subscribed;
use angzarr_runtime::dead_letter::DeadLetterSink;
use angzarr_runtime::{
    CommandRouter, FiringPolicy, Guarded, Projector, ProjectorDispatch, Saga, SagaDispatch,
};
use serde_json::Value;

/// Delivers books to projectors and sagas.
#[derive(Debug)]
pub struct Triggers {
    projectors: Vec<Subscribed<dyn Projector>>,
    sagas: Vec<Subscribed<dyn Saga>>,
    projector_dispatch: ProjectorDispatch,
    saga_dispatch: SagaDispatch,
    fifo: bool,
}

/// What one book's delivery did, per handler (for logs and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Handlers that did their work now.
    pub done: Vec<String>,
    /// Handlers that had done it before (duplicate delivery).
    pub duplicates: Vec<String>,
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
            projector_dispatch: ProjectorDispatch::new(guard.clone(), policy),
            saga_dispatch: SagaDispatch::new(guard, policy, router, dead_letters),
            fifo: false,
        }
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

    /// Treats every batch as ordered: stop at the first failed record.
    pub fn fifo(mut self, fifo: bool) -> Self {
        self.fifo = fifo;
        self
    }

    /// Delivers `book` to every handler subscribed to its domain. Every
    /// handler is tried; the first failure is returned (the handlers that
    /// succeeded are duplicates on the retry).
    pub async fn deliver(&self, book: EventBook) -> Result<DeliveryReport> {
        let domain = AggregateKey::from_book(&book)?.domain;
        let mut report = DeliveryReport::default();
        let mut first_error = None;
        for projector in self.projectors.iter().filter(|p| p.wants(&domain)) {
            let name = projector.handler.name().to_owned();
            match self
                .projector_dispatch
                .deliver(projector.handler.as_ref(), book.clone())
                .await
            {
                Ok(Guarded::Done(_)) => report.done.push(name),
                Ok(Guarded::Duplicate) => report.duplicates.push(name),
                Err(error) => {
                    tracing::warn!(projector = %name, %error, "projector failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        for saga in self.sagas.iter().filter(|s| s.wants(&domain)) {
            let name = saga.handler.name().to_owned();
            match self
                .saga_dispatch
                .deliver(saga.handler.as_ref(), book.clone())
                .await
            {
                Ok(Guarded::Done(_)) => report.done.push(name),
                Ok(Guarded::Duplicate) => report.duplicates.push(name),
                Err(error) => {
                    tracing::warn!(saga = %name, %error, "saga failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Handles a Lambda event: SQS (`eventSource` `aws:sqs`) or Kinesis
    /// (`aws:kinesis`, with the `kinesis` feature); answers the
    /// `batchItemFailures` document. An event of another shape is an error
    /// (the whole invocation fails and Lambda retries it).
    pub async fn handle_event(&self, event: Value) -> Result<Value> {
        let source = event
            .get("Records")
            .and_then(|r| r.get(0))
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str)
            .unwrap_or("");
        let answer = match source {
            "aws:sqs" | "" => {
                let event: angzarr_bus_sqs::SqsEvent = serde_json::from_value(event)
                    .map_err(|e| Error::invalid_argument(format!("not an SQS event: {e}")))?;
                let response = angzarr_bus_sqs::process_sqs_event(event, self.fifo, |delivery| {
                    let message_id = delivery.message_id.clone();
                    async move {
                        let report = self.deliver(delivery.book).await?;
                        tracing::info!(%message_id, done = ?report.done, duplicates = ?report.duplicates, "record processed");
                        Ok(())
                    }
                })
                .await;
                serde_json::to_value(response)
            }
            #[cfg(feature = "kinesis")]
            "aws:kinesis" => {
                let event: angzarr_bus_kinesis::KinesisEvent = serde_json::from_value(event)
                    .map_err(|e| Error::invalid_argument(format!("not a Kinesis event: {e}")))?;
                let response = angzarr_bus_kinesis::process_kinesis_event(event, |delivery| {
                    let message_id = delivery.message_id.clone();
                    async move {
                        let report = self.deliver(delivery.book).await?;
                        tracing::info!(%message_id, done = ?report.done, duplicates = ?report.duplicates, "record processed");
                        Ok(())
                    }
                })
                .await;
                serde_json::to_value(response)
            }
            other => {
                return Err(Error::invalid_argument(format!(
                    "events from `{other}` are not handled by this function (Kinesis needs the `kinesis` feature)"
                )));
            }
        };
        answer.map_err(|e| Error::backend("lambda", e.to_string(), false))
    }
}
