//! Angzarr's event bus on Amazon Kinesis Data Streams.
//!
//! - [`KinesisBus`] publishes every event book with one `PutRecord` to the
//!   stream of its domain, `{stream_prefix}{domain}`, partition key = the
//!   aggregate's root, data = the book's protobuf bytes. Books over the
//!   1 MiB record limit are offloaded to a [`angzarr_core::PayloadStore`]
//!   when one is configured, else refused.
//! - [`process_kinesis_event`] decodes a Lambda Kinesis trigger event and
//!   answers with the first failed record, so Lambda retries from there.
//! - [`KinesisReader`] polls a stream shard by shard from checkpoints the
//!   caller keeps; [`KinesisSubscription`] wraps it as an
//!   [`angzarr_core::Subscription`] (in-process acknowledgement).
//! - [`setup`] creates streams (tests, `xtask`).
//!
//! Kinesis records have no attributes: `domain`, `root_id` and
//! `correlation_id` are read from the book's cover on receipt.

mod builder;
mod client;

mod lambda;
mod publish;
mod reader;
pub mod setup;
mod subscription;

pub use angzarr_aws::{RequestCounter, StaticCredentials};
pub use builder::Builder;
pub use lambda::{decode_kinesis_record, process_kinesis_event, process_kinesis_event_with};
pub use publish::{KinesisBus, MAX_BOOK_BYTES, RECORD_LIMIT, decode_record_data};
pub use reader::{Checkpoint, KinesisReader, ReadBatch, ReadRecord};
pub use subscription::KinesisSubscription;

/// The Lambda event types this crate reads and answers with.
pub use aws_lambda_events::event::kinesis::KinesisEvent;
pub use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
