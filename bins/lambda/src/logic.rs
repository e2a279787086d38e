//! [`Logic`]: the business logic a deployment hosts — command handlers per
//! domain, projectors, sagas, and the message types of its JSON API — and
//! how each role builds its pieces from it and the [`Adapters`].
//!
//! Handlers are the `angzarr_runtime` traits, so they can be Rust linked in
//! ([`angzarr_runtime::authoring`]) or a gRPC service in any language
//! ([`angzarr_runtime::grpc`]): pass a `GrpcCommandHandler` (or projector,
//! saga) where the shop passes its Rust logic.

use std::sync::Arc;

use angzarr_core::Result;
use angzarr_core::config::DiscoveryType;
use angzarr_gateway::{Gateway, GatewayConfig, TypeRegistry};
use angzarr_runtime::{
    AggregateCoordinator, CommandHandler, CommandRouter, DiscoveryRouter, EventQueries,
    FiringPolicy, MemoryDeadLetters, Projector, Saga,
};

use crate::adapters::Adapters;
use crate::invoke::LambdaRouter;
use crate::trigger::{Subscribed, Triggers};

/// The business logic of a deployment.
#[derive(Debug, Default)]
pub struct Logic {
    aggregates: Vec<(String, Arc<dyn CommandHandler>)>,
    projectors: Vec<Subscribed<dyn Projector>>,
    sagas: Vec<Subscribed<dyn Saga>>,
    types: Option<fn() -> Result<TypeRegistry>>,
}

impl Logic {
    /// No logic yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `domain`'s command handler.
    pub fn aggregate(mut self, domain: &str, handler: Arc<dyn CommandHandler>) -> Self {
        self.aggregates.push((domain.to_owned(), handler));
        self
    }

    /// A projector fed the books of `domains` (empty: all).
    pub fn projector(mut self, projector: Arc<dyn Projector>, domains: &[&str]) -> Self {
        self.projectors
            .push(Subscribed::new(projector, domains.iter().copied()));
        self
    }

    /// A saga fed the books of `domains` (empty: all).
    pub fn saga(mut self, saga: Arc<dyn Saga>, domains: &[&str]) -> Self {
        self.sagas
            .push(Subscribed::new(saga, domains.iter().copied()));
        self
    }

    /// The message types the gateway reads and writes as JSON, as the
    /// function that builds them: only the gateway role calls it, so the
    /// other roles do not pay for building descriptors at a cold start.
    pub fn types(mut self, types: fn() -> Result<TypeRegistry>) -> Self {
        self.types = Some(types);
        self
    }

    /// The domains with a command handler here.
    pub fn domains(&self) -> Vec<String> {
        self.aggregates.iter().map(|(d, _)| d.clone()).collect()
    }

    /// The aggregate pipeline over the adapters, with the configuration's
    /// `runtime` settings (snapshots, state cache, merge retries).
    pub fn coordinator(&self, adapters: &Adapters) -> AggregateCoordinator {
        let mut builder =
            AggregateCoordinator::builder(adapters.store.clone(), adapters.bus.clone())
                .snapshots(adapters.snapshots.clone())
                .runtime_config(&adapters.config.runtime);
        for (domain, handler) in &self.aggregates {
            builder = builder.handler(domain, handler.clone());
        }
        builder.build()
    }

    /// Where commands go from the gateway and the saga trigger: this
    /// process's aggregates with `lambda.in_process`, else the aggregate
    /// functions, else the aggregate services of `discovery.env_urls` (gRPC).
    pub async fn router(&self, adapters: &Adapters) -> Result<Arc<dyn CommandRouter>> {
        let config = &adapters.lambda;
        let mut router = LambdaRouter::new(
            config.clone(),
            LambdaRouter::client(config, &adapters.sdk_configs).await,
        );
        if config.in_process {
            router = router.with_local(Arc::new(self.coordinator(adapters)));
        }
        if adapters.config.discovery.kind == DiscoveryType::EnvUrls {
            let discovery =
                angzarr_discovery_env::Builder::from_config(&adapters.config.discovery.env_urls)
                    .with_env()
                    .build()?;
            if !discovery.aggregates().is_empty() {
                router =
                    router.with_fallback(Arc::new(DiscoveryRouter::new(None, Arc::new(discovery))));
            }
        }
        Ok(Arc::new(router))
    }

    /// The gateway's HTTP API (settings from the `gateway` section).
    pub async fn gateway(&self, adapters: &Adapters) -> Result<axum::Router> {
        let mut config = GatewayConfig::load()?;
        if config.domains.is_empty() {
            config.domains = self.domains();
        }
        let mut builder = Gateway::builder(
            self.router(adapters).await?,
            EventQueries::new(adapters.store.clone()),
        )
        .config(config);
        if let Some(types) = self.types {
            builder = builder.types(types()?);
        }
        builder.build()
    }

    /// The trigger of this logic's projectors (`projectors`) or sagas (`sagas`).
    pub async fn triggers(
        &self,
        adapters: &Adapters,
        projectors: bool,
        sagas: bool,
    ) -> Result<Triggers> {
        let router = if sagas {
            self.router(adapters).await?
        } else {
            Arc::new(NoCommands) as Arc<dyn CommandRouter>
        };
        let mut triggers = Triggers::new(
            adapters.guard.clone(),
            FiringPolicy::from(&adapters.config.firing_guard),
            router,
            Arc::new(MemoryDeadLetters::new()),
        )
        .fifo(adapters.lambda.fifo);
        if projectors {
            for p in &self.projectors {
                triggers = triggers.projector(p.clone());
            }
        }
        if sagas {
            for s in &self.sagas {
                triggers = triggers.saga(s.clone());
            }
        }
        Ok(triggers)
    }
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
