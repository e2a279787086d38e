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

use angzarr_core::{Delivery, Error, Result};
pub use angzarr_host::{DeliveryReport, Subscribed, Triggers};
use serde_json::Value;

/// Handles a Lambda event: SQS (`eventSource` `aws:sqs`) or Kinesis
/// (`aws:kinesis`, with the `kinesis` feature), each record's book through
/// [`Triggers::deliver`]; answers the `batchItemFailures` document. With
/// `fifo` (a FIFO queue, Kinesis) the batch stops at the first failed
/// record. An event of another shape is an error (the whole invocation
/// fails and Lambda retries it).
pub async fn handle_event(triggers: &Triggers, fifo: bool, event: Value) -> Result<Value> {
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
            let response = angzarr_bus_sqs::process_sqs_event(event, fifo, |delivery| {
                deliver_record(triggers, delivery)
            })
            .await;
            serde_json::to_value(response)
        }
        #[cfg(feature = "kinesis")]
        "aws:kinesis" => {
            let event: angzarr_bus_kinesis::KinesisEvent = serde_json::from_value(event)
                .map_err(|e| Error::invalid_argument(format!("not a Kinesis event: {e}")))?;
            let response = angzarr_bus_kinesis::process_kinesis_event(event, |delivery| {
                deliver_record(triggers, delivery)
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

/// One record's book to every handler of its domain.
async fn deliver_record(triggers: &Triggers, delivery: Delivery) -> Result<()> {
    let report = triggers
        .deliver(&delivery.message_id, delivery.book)
        .await?;
    tracing::info!(message_id = %delivery.message_id, done = ?report.done, duplicates = ?report.duplicates, "record processed");
    Ok(())
}
