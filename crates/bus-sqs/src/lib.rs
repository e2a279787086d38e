//! Angzarr's event bus on Amazon SNS and SQS.
//!
//! - [`SnsBus`] publishes every event book to the SNS topic of its domain,
//!   `{topic_arn_prefix}{domain}` (`.fifo` on FIFO topics), with the message
//!   attributes `domain`, `root_id` and `correlation_id`; one `Publish` per
//!   book. On FIFO topics the message group is `{domain}#{root}`, so each
//!   aggregate's books stay in order. Books too large for SNS are offloaded
//!   to a [`angzarr_core::PayloadStore`] when one is configured, else refused.
//! - [`process_sqs_event`] decodes a Lambda SQS trigger event (raw or
//!   SNS-enveloped records) and builds its `batchItemFailures` answer.
//! - [`SqsSubscription`] is the pull consumer of one queue (long polling).
//! - [`setup`] creates topics, queues and subscriptions (tests, `xtask`).
//!
//! The message format is described in [`message`]. Build everything with
//! [`Builder`].

mod builder;
mod client;

mod lambda;
pub mod message;
mod publish;
pub mod setup;
mod subscription;

pub use angzarr_aws::{RequestCounter, StaticCredentials};
pub use builder::Builder;
pub use lambda::{decode_sqs_record, process_sqs_event, process_sqs_event_with};
pub use publish::SnsBus;
pub use subscription::SqsSubscription;

/// The Lambda event types this crate reads and answers with.
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
