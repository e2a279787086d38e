//! The four functions. Each builds its adapters and logic once per process
//! (before the first `next` poll of the Runtime API) and reuses them for
//! every invocation:
//!
//! * [`run_gateway`]: API Gateway HTTP API (v2) / function URL events through
//!   the gateway router (`lambda_http`);
//! * [`run_aggregate`]: an [`crate::invoke::AggregateInvocation`] in, an
//!   [`crate::invoke::AggregateAnswer`] out;
//! * [`run_projector_trigger`] and [`run_saga_trigger`]: SQS or Kinesis
//!   events in, `batchItemFailures` out.

use std::sync::Arc;

use angzarr_core::Result;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::adapters::Adapters;
use crate::logic::Logic;

/// What every `main` returns.
pub type RunResult = std::result::Result<(), lambda_runtime::Error>;

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(true)
        .without_time()
        .try_init();
}

async fn prepare(
    build: impl FnOnce(&Adapters) -> Result<Logic>,
) -> Result<(&'static Adapters, Logic)> {
    init_tracing();
    let adapters = Adapters::shared().await?;
    let logic = build(adapters)?;
    Ok((adapters, logic))
}

/// The gateway function.
pub async fn run_gateway(build: impl FnOnce(&Adapters) -> Result<Logic>) -> RunResult {
    let (adapters, logic) = prepare(build).await?;
    let app = logic.gateway(adapters).await?;
    lambda_http::run(app).await
}

/// The aggregate function.
pub async fn run_aggregate(build: impl FnOnce(&Adapters) -> Result<Logic>) -> RunResult {
    let (adapters, logic) = prepare(build).await?;
    let coordinator = Arc::new(logic.coordinator(adapters));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let coordinator = coordinator.clone();
        async move {
            let answer = crate::invoke::handle_invocation(&coordinator, event.payload).await;
            Ok::<_, lambda_runtime::Error>(answer)
        }
    }))
    .await
}

async fn run_trigger(
    build: impl FnOnce(&Adapters) -> Result<Logic>,
    projectors: bool,
    sagas: bool,
) -> RunResult {
    let (adapters, logic) = prepare(build).await?;
    let triggers = Arc::new(logic.triggers(adapters, projectors, sagas).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let triggers = triggers.clone();
        async move {
            triggers
                .handle_event(event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

/// The projector trigger function.
pub async fn run_projector_trigger(build: impl FnOnce(&Adapters) -> Result<Logic>) -> RunResult {
    run_trigger(build, true, false).await
}

/// The saga trigger function.
pub async fn run_saga_trigger(build: impl FnOnce(&Adapters) -> Result<Logic>) -> RunResult {
    run_trigger(build, false, true).await
}
