//! # angzarr-lambda
//!
//! Angzarr on AWS Lambda: four functions built from one library.
//!
//! | binary | event | does |
//! |---|---|---|
//! | `gateway` | API Gateway HTTP API (v2), function URL | the HTTP API of `angzarr-gateway`; commands go to the aggregate function |
//! | `aggregate` | [`invoke::AggregateInvocation`] (JSON, from `Invoke`) | the command pipeline: load, decide, append, publish |
//! | `projector-trigger` | SQS, Kinesis | projectors through the firing guard; `batchItemFailures` |
//! | `saga-trigger` | SQS, Kinesis | sagas through the firing guard, their commands to the aggregate function |
//!
//! The binaries host the shop example ([`shop::logic`]); a deployment of its
//! own logic writes four `main`s like those in `src/bin/` with its own
//! [`Logic`]. Adapters come from the configuration ([`Adapters`]), chosen by
//! cargo features: `lambda` (default: DynamoDB, SNS/SQS), `kinesis`, `redis`.

pub mod adapters;
pub mod aws;
pub mod config;
pub mod invoke;
pub mod logic;
pub mod roles;
pub mod shop;
pub mod trigger;

pub use adapters::Adapters;
pub use config::LambdaConfig;
pub use invoke::{AggregateAnswer, AggregateInvocation, LambdaRouter};
pub use logic::Logic;
pub use trigger::{DeliveryReport, Subscribed, Triggers};
