//! The Lambda Kinesis trigger: decoding a [`KinesisEvent`] and answering
//! with the first failed record ([`KinesisEventResponse`], for
//! `ReportBatchItemFailures`).

use std::future::Future;

use angzarr_core::payload::resolve_book;
use angzarr_core::{Delivery, PayloadStore, Result};
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};

use crate::publish::decode_record_data;

/// Decodes one record of a Kinesis event into a [`Delivery`]: `message_id`
/// is the record's `eventID` (`{shard_id}:{sequence}`), `ack_id` its
/// sequence number (what a batch failure reports), the attributes come from
/// the book's cover, and `attempt` is 1 (Lambda does not count retries per
/// record).
pub fn decode_kinesis_record(record: &KinesisEventRecord) -> Result<Delivery> {
    let (book, attributes) = decode_record_data(&record.kinesis.data.0)?;
    Ok(Delivery {
        // `eventID` is `{shard_id}:{sequence}`, unique in the stream.
        message_id: record
            .event_id
            .clone()
            .unwrap_or_else(|| record.kinesis.sequence_number.clone()),
        ack_id: record.kinesis.sequence_number.clone(),
        book,
        attributes,
        attempt: 1,
    })
}

/// Calls `handler` for the records of `event` in order and stops at the
/// first that fails (malformed or refused): its sequence number is the one
/// failure reported, and Lambda retries the shard from there, so no book
/// overtakes a failed one.
pub async fn process_kinesis_event<F, Fut>(event: KinesisEvent, handler: F) -> KinesisEventResponse
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    process_kinesis_event_with(event, None, handler).await
}

/// [`process_kinesis_event`], bringing pages offloaded to `payload_store`
/// back inline (verified) before calling `handler`.
pub async fn process_kinesis_event_with<F, Fut>(
    event: KinesisEvent,
    payload_store: Option<&dyn PayloadStore>,
    handler: F,
) -> KinesisEventResponse
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut response = KinesisEventResponse::default();
    for record in &event.records {
        let outcome = async {
            let mut delivery = decode_kinesis_record(record)?;
            if let Some(store) = payload_store {
                resolve_book(store, &mut delivery.book).await?;
            }
            handler(delivery).await
        }
        .await;
        if let Err(error) = outcome {
            let sequence_number = record.kinesis.sequence_number.clone();
            tracing::warn!(%sequence_number, %error, retriable = error.is_retriable(), "Kinesis record failed");
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
