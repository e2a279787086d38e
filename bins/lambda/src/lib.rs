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
//! Each function hosts an [`angzarr_host::Application`]: the stock binaries
//! (`src/bin/`) host exactly what the configuration's `business` section
//! names (gRPC services in any language); a Rust application links its logic
//! in and calls [`run`] (or [`run_with`]) from one `main`:
//!
//! ```no_run
//! # async fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>) -> angzarr_lambda::roles::RunResult {
//! angzarr_lambda::run(angzarr_host::Application::new().aggregate("cart", cart)).await
//! # }
//! ```
//!
//! The role comes from `ANGZARR_ROLE` or, without it, the function's name
//! (`shop-aggregate` plays `aggregate`), so one binary serves every role.
//! Adapters come from the configuration ([`Adapters`]), chosen by cargo
//! features: `lambda` (default: DynamoDB, SNS/SQS), `kinesis`, `redis`,
//! `consul`, `cloudmap` — those of `angzarr-host`'s one factory.

pub mod adapters;
pub mod config;
pub mod host;
pub mod invoke;
pub mod roles;
pub mod trigger;

pub use adapters::Adapters;
pub use config::LambdaConfig;
pub use invoke::{AggregateAnswer, AggregateFunctions, AggregateInvocation, LambdaTransport};
pub use roles::{run, run_with};
pub use trigger::{DeliveryReport, Subscribed, Triggers, handle_event};
