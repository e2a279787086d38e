//! The four roles of a Lambda function, and [`run`], which picks one. Each
//! builds its adapters and application once per process (before the first
//! `next` poll of the Runtime API) and reuses them for every invocation:
//!
//! * [`Role::Gateway`]: API Gateway HTTP API (v2) / function URL events
//!   through the gateway router (`lambda_http`);
//! * [`Role::Aggregate`]: an [`crate::invoke::AggregateInvocation`] in, an
//!   [`crate::invoke::AggregateAnswer`] out;
//! * [`Role::ProjectorTrigger`] and [`Role::SagaTrigger`]: SQS or Kinesis
//!   events in, `batchItemFailures` out.

use std::sync::Arc;

use angzarr_core::config::Config;
use angzarr_core::{Error, Result};
use angzarr_gateway::GatewayConfig;
use angzarr_host::{Application, BusinessConfig, Role};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::adapters::Adapters;
use crate::host;

/// What every `main` returns.
pub type RunResult = std::result::Result<(), lambda_runtime::Error>;

/// The variable Lambda sets to the function's name.
pub const FUNCTION_NAME_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";

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

/// Serves `app`, plus whatever the configuration's `business` section names,
/// in the role the configuration gives (`ANGZARR_ROLE`) or, without one, the
/// role the function's name ends with (`shop-aggregate` → `aggregate`).
///
/// ```no_run
/// # async fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>) -> angzarr_lambda::roles::RunResult {
/// angzarr_lambda::run(angzarr_host::Application::new().aggregate("cart", cart)).await
/// # }
/// ```
pub async fn run(app: Application) -> RunResult {
    run_with(move |_| Ok(app)).await
}

/// [`run`] with an application built from the function's adapters (say, a
/// projector writing to the DynamoDB client the store uses).
pub async fn run_with(build: impl FnOnce(&Adapters) -> Result<Application>) -> RunResult {
    init_tracing();
    let figment = Config::figment()?;
    let function = std::env::var(FUNCTION_NAME_VAR).ok();
    let role = resolve_role(Role::from_figment(&figment)?, function.as_deref())?;
    let (app, adapters) = prepare(role, &figment, build).await?;
    serve(role, app, adapters, &figment).await
}

/// The adapters and the application, with the configuration's `business`
/// section applied and its processes for `role` serving.
async fn prepare(
    role: Role,
    figment: &figment::Figment,
    build: impl FnOnce(&Adapters) -> Result<Application>,
) -> Result<(Application, &'static Adapters)> {
    let adapters = Adapters::shared(figment).await?;
    let app = BusinessConfig::from_figment(figment)?.apply(build(adapters)?)?;
    // Business logic the function runs beside it serves before the first poll.
    app.start(role).await?;
    tracing::info!(%role, aggregates = ?app.aggregate_domains(), "angzarr-lambda starting");
    Ok((app, adapters))
}

/// The role of a function: the configured one, else the one its name ends
/// with. `all` is refused: a Lambda function receives one kind of event.
pub fn resolve_role(configured: Option<Role>, function: Option<&str>) -> Result<Role> {
    let role = match (configured, function) {
        (Some(role), _) => role,
        (None, Some(name)) => Role::from_function_name(name).ok_or_else(|| {
            Error::config(
                angzarr_host::role::KEY,
                format!(
                    "function `{name}` does not end with a role name; set ANGZARR_ROLE to \
                     gateway, aggregate, projector-trigger or saga-trigger"
                ),
            )
        })?,
        (None, None) => {
            return Err(Error::config(
                angzarr_host::role::KEY,
                format!(
                    "no role: set ANGZARR_ROLE (gateway, aggregate, projector-trigger, \
                     saga-trigger) or {FUNCTION_NAME_VAR}"
                ),
            ));
        }
    };
    if role == Role::All {
        return Err(all_refused());
    }
    Ok(role)
}

fn all_refused() -> Error {
    Error::config(
        angzarr_host::role::KEY,
        "`all` is a Cloud Run role; a Lambda function plays gateway, aggregate, \
         projector-trigger or saga-trigger",
    )
}

/// Runs the Lambda Runtime API loop of `role` for `app`; the role's own
/// section (`gateway`) comes from `figment`.
pub async fn serve(
    role: Role,
    app: Application,
    adapters: &'static Adapters,
    figment: &figment::Figment,
) -> RunResult {
    match role {
        Role::Gateway => {
            let config = GatewayConfig::from_figment(figment)?;
            lambda_http::run(host::gateway(&app, adapters, config).await?).await
        }
        Role::Aggregate => serve_aggregate(app, adapters).await,
        Role::ProjectorTrigger => serve_triggers(app, adapters, false).await,
        Role::SagaTrigger => serve_triggers(app, adapters, true).await,
        Role::All => Err(all_refused().into()),
    }
}

async fn serve_aggregate(app: Application, adapters: &'static Adapters) -> RunResult {
    let coordinator = Arc::new(host::coordinator(&app, adapters));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let coordinator = coordinator.clone();
        async move {
            let answer = crate::invoke::handle_invocation(&coordinator, event.payload).await;
            Ok::<_, lambda_runtime::Error>(answer)
        }
    }))
    .await
}

async fn serve_triggers(app: Application, adapters: &'static Adapters, sagas: bool) -> RunResult {
    let triggers = Arc::new(host::triggers(&app, adapters, !sagas, sagas).await?);
    let fifo = adapters.lambda.fifo;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let triggers = triggers.clone();
        async move {
            crate::trigger::handle_event(&triggers, fifo, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_role_wins_over_the_function_name() {
        assert_eq!(
            resolve_role(Some(Role::Gateway), Some("shop-aggregate")).unwrap(),
            Role::Gateway
        );
        assert_eq!(
            resolve_role(None, Some("shop-aggregate")).unwrap(),
            Role::Aggregate
        );
    }

    #[test]
    fn no_role_or_all_is_refused_naming_the_key() {
        for (configured, function) in [
            (None, Some("billing")),
            (None, None),
            (Some(Role::All), Some("aggregate")),
        ] {
            let err = resolve_role(configured, function).unwrap_err().to_string();
            assert!(err.contains("role"), "{err}");
            assert!(
                err.contains("ANGZARR_ROLE") || err.contains("Cloud Run"),
                "{err}"
            );
        }
    }
}
