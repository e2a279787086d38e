//! The Lambda SQS trigger: decoding an [`SqsEvent`] and answering with the
//! records that failed ([`SqsBatchResponse`], for `ReportBatchItemFailures`).

use std::future::Future;

use angzarr_core::payload::resolve_book;
use angzarr_core::{Delivery, Error, PayloadStore, Result};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use crate::message::decode_message;

/// Decodes one record of an SQS event into a [`Delivery`] (its `ack_id` is
/// the receipt handle, `attempt` the `ApproximateReceiveCount`). The body is
/// either raw (base64, attributes in `messageAttributes`) or SNS's JSON
/// envelope.
pub fn decode_sqs_record(record: &SqsMessage) -> Result<Delivery> {
    let body = record
        .body
        .as_deref()
        .ok_or_else(|| Error::invalid_argument("SQS record has no body"))?;
    let decoded = decode_message(body, |name| {
        record
            .message_attributes
            .get(name)
            .and_then(|a| a.string_value.as_deref())
    })?;
    Ok(Delivery {
        message_id: record.message_id.clone().unwrap_or_default(),
        ack_id: record.receipt_handle.clone().unwrap_or_default(),
        book: decoded.book,
        attributes: decoded.attributes,
        attempt: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
    })
}

/// Calls `handler` for every record of `event`, in order, and reports the
/// records that failed (malformed or refused by the handler) by message id.
///
/// On a standard queue every record is tried; on a FIFO queue (`fifo`, or
/// records whose `eventSourceARN` ends in `.fifo`) processing stops at the
/// first failure and that record and every later one are reported, so
/// nothing of a message group overtakes a failed book.
pub async fn process_sqs_event<F, Fut>(event: SqsEvent, fifo: bool, handler: F) -> SqsBatchResponse
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    process_sqs_event_with(event, fifo, None, handler).await
}

/// [`process_sqs_event`], bringing pages offloaded to `payload_store` back
/// inline (verified) before calling `handler`.
pub async fn process_sqs_event_with<F, Fut>(
    event: SqsEvent,
    fifo: bool,
    payload_store: Option<&dyn PayloadStore>,
    handler: F,
) -> SqsBatchResponse
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let fifo = fifo
        || event.records.iter().any(|record| {
            record
                .event_source_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(".fifo"))
        });
    let mut failed = Vec::new();
    let mut records = event.records.iter();
    for record in records.by_ref() {
        let message_id = record.message_id.clone().unwrap_or_default();
        let outcome = async {
            let mut delivery = decode_sqs_record(record)?;
            if let Some(store) = payload_store {
                resolve_book(store, &mut delivery.book).await?;
            }
            handler(delivery).await
        }
        .await;
        if let Err(error) = outcome {
            tracing::warn!(%message_id, %error, retriable = error.is_retriable(), "SQS record failed");
            failed.push(message_id);
            if fifo {
                break;
            }
        }
    }
    // FIFO: everything after the first failure is handed back unprocessed.
    failed.extend(records.map(|record| record.message_id.clone().unwrap_or_default()));
    batch_response(failed)
}

fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}
