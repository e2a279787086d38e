//! How each role builds its pieces from the [`Application`] a deployment
//! hosts and the function's [`Adapters`].
//!
//! The handlers are the `angzarr_runtime` traits, so they can be Rust linked
//! in ([`angzarr_runtime::authoring`]) or gRPC services in any language named
//! by the configuration's `business` section ([`angzarr_host::BusinessConfig`]).

use std::sync::Arc;

use angzarr_core::Result;
use angzarr_gateway::{Gateway, GatewayConfig};
use angzarr_host::{Application, HttpTransport, Types};
use angzarr_runtime::{
    AggregateCoordinator, CommandRouter, DiscoveryRouter, EventQueries, MemoryDeadLetters,
};

use crate::adapters::Adapters;
use crate::invoke::{AggregateFunctions, LambdaTransport};
use angzarr_host::Triggers;

/// The aggregate pipeline of `app`'s command handlers over the adapters
/// ([`Application::coordinator`]).
pub fn coordinator(app: &Application, adapters: &Adapters) -> AggregateCoordinator {
    app.coordinator(&adapters.host).build()
}

/// Where commands go from the gateway and the saga trigger: `app`'s
/// aggregates in this process with `lambda.in_process`, else the domain's
/// aggregate function (`lambda.aggregate_function(s)`), else the endpoint
/// the `discovery` section names — `lambda:`, `grpc(s)://` or `http(s)://`.
pub async fn router(app: &Application, adapters: &Adapters) -> Result<Arc<dyn CommandRouter>> {
    let config = &adapters.lambda;
    let local = config
        .in_process
        .then(|| Arc::new(coordinator(app, adapters)));
    let endpoints = AggregateFunctions::new(config.clone(), adapters.host.discovery.clone());
    let client = LambdaTransport::client(config, adapters.sdk_configs()).await;
    let router = DiscoveryRouter::new(local, Arc::new(endpoints))
        .with_transport(Arc::new(LambdaTransport::new(client)))
        .with_transport(Arc::new(HttpTransport::new()?));
    Ok(Arc::new(router))
}

/// The gateway's HTTP API with the `gateway` section's settings (`config`;
/// the hosted domains when it names none).
pub async fn gateway(
    app: &Application,
    adapters: &Adapters,
    mut config: GatewayConfig,
) -> Result<axum::Router> {
    if config.domains.is_empty() {
        config.domains = app.aggregate_domains();
    }
    let mut builder = Gateway::builder(
        router(app, adapters).await?,
        EventQueries::new(adapters.host.store.clone()),
    )
    .config(config);
    if !matches!(app.message_types(), Types::Contract) {
        builder = builder.types(app.message_types().registry()?);
    }
    builder.build()
}

/// The trigger of `app`'s projectors (`projectors`) or sagas (`sagas`).
pub async fn triggers(
    app: &Application,
    adapters: &Adapters,
    projectors: bool,
    sagas: bool,
) -> Result<Triggers> {
    let router = if sagas {
        router(app, adapters).await?
    } else {
        Arc::new(NoCommands) as Arc<dyn CommandRouter>
    };
    Ok(
        Triggers::from_adapters(&adapters.host, router, Arc::new(MemoryDeadLetters::new()))
            .with_application(app, projectors, sagas),
    )
}

/// The projector trigger sends no commands.
#[derive(Debug)]
struct NoCommands;

#[async_trait::async_trait]
impl CommandRouter for NoCommands {
    async fn send(
        &self,
        _request: angzarr_core::proto::CommandRequest,
    ) -> Result<angzarr_core::proto::CommandResponse> {
        Err(angzarr_core::Error::Unsupported {
            backend: "projector trigger".into(),
            operation: "sending commands".into(),
        })
    }
}
