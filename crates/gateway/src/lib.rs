//! # angzarr-gateway
//!
//! The client-facing HTTP API of Angzarr as an [`axum::Router`] — a tower
//! service that Lambda (`lambda_http`) and Cloud Run (any HTTP server) host
//! unchanged:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/commands` | a `angzarr.CommandRequest` as protobuf (`application/x-protobuf`) or in the protobuf JSON mapping (`application/json`); answers a `CommandResponse` in the same format (or as `Accept` asks) |
//! | `GET /v1/events/{domain}/{root}?from=&to=&limit=` | the events of one aggregate, `from` inclusive, `to` exclusive, with `next` for the next poll |
//! | `GET /health/live` | always 200 |
//! | `GET /health/ready` | 200 when the [`ReadinessProbe`] passes |
//!
//! Commands go to their domain's aggregate through a
//! [`angzarr_runtime::CommandRouter`]: an in-process
//! [`angzarr_runtime::AggregateCoordinator`], or a
//! [`angzarr_runtime::DiscoveryRouter`] over service discovery.
//!
//! Errors are JSON, `{"error": {"code": "...", "message": "..."}}`, with the
//! stable code and HTTP status of [`angzarr_core::Error`] (see [`ApiError`]).
//! Request bodies are limited (413), and every request is logged as one
//! structured `angzarr_gateway::access` event (see [`logging`]).
//!
//! ```no_run
//! # async fn doc() -> angzarr_core::Result<()> {
//! let shop = angzarr_example_shop::Shop::in_memory();
//! let app = angzarr_gateway::Gateway::builder(shop.coordinator.clone(), shop.queries.clone())
//!     .max_body_bytes(64 * 1024)
//!     .build()?;
//! # let _ = app; Ok(()) }
//! ```

mod codec;
mod commands;
pub mod config;
mod error;
mod events;
pub mod health;
mod layers;
pub mod logging;
mod registry;
mod state;

use std::collections::BTreeSet;
use std::sync::Arc;

use angzarr_core::Result;
use angzarr_runtime::{CommandRouter, EventQueries};
use axum::Router;
use axum::routing::{get, post};

pub use codec::PROTOBUF;
pub use config::GatewayConfig;
pub use error::ApiError;
pub use events::NEXT_HEADER;
pub use health::{AlwaysReady, ReadinessProbe, StoreProbe};
pub use registry::{ANGZARR_FILE_DESCRIPTOR_SET, TypeRegistry};

use state::Shared;

/// Builds the gateway's router.
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// A gateway sending commands through `router` and reading events with
    /// `queries`; everything else at its defaults.
    pub fn builder(router: Arc<dyn CommandRouter>, queries: EventQueries) -> GatewayBuilder {
        GatewayBuilder {
            router,
            queries,
            registry: None,
            readiness: Arc::new(AlwaysReady),
            config: GatewayConfig::default(),
        }
    }
}

/// The gateway's settings; [`GatewayBuilder::build`] checks them.
#[derive(Debug)]
pub struct GatewayBuilder {
    router: Arc<dyn CommandRouter>,
    queries: EventQueries,
    registry: Option<TypeRegistry>,
    readiness: Arc<dyn ReadinessProbe>,
    config: GatewayConfig,
}

impl GatewayBuilder {
    /// The message types JSON requests and answers may hold (default: the
    /// `angzarr` contract only, so JSON commands of other types are refused).
    pub fn types(mut self, registry: TypeRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// What `GET /health/ready` asks (default: [`AlwaysReady`]).
    pub fn readiness(mut self, probe: Arc<dyn ReadinessProbe>) -> Self {
        self.readiness = probe;
        self
    }

    /// All settings at once (e.g. from [`GatewayConfig::load`]).
    pub fn config(mut self, config: GatewayConfig) -> Self {
        self.config = config;
        self
    }

    /// The largest request body accepted, in bytes.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.config.max_body_bytes = limit;
        self
    }

    /// The most events one poll answers with.
    pub fn events_page_limit(mut self, limit: u32) -> Self {
        self.config.events_page_limit = limit;
        self
    }

    /// Serves only these domains; others are refused with 400 before routing.
    pub fn domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.domains = domains.into_iter().map(Into::into).collect();
        self
    }

    /// Allows CORS requests from these origins (`*` for any).
    pub fn cors_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.cors_allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the settings and builds the router.
    pub fn build(self) -> Result<Router> {
        self.config.validate()?;
        let cors = layers::cors(&self.config.cors_allowed_origins)?;
        let registry = match self.registry {
            Some(registry) => registry,
            None => TypeRegistry::new(),
        };
        let state = Arc::new(Shared {
            router: self.router,
            queries: self.queries,
            registry,
            readiness: self.readiness,
            max_body_bytes: self.config.max_body_bytes,
            events_page_limit: self.config.events_page_limit,
            domains: self.config.domains.iter().cloned().collect::<BTreeSet<_>>(),
        });
        let routes = Router::new()
            .route("/v1/commands", post(commands::handle))
            .route("/v1/events/{domain}/{root}", get(events::handle))
            .route("/health/live", get(health::live))
            .route("/health/ready", get(health::ready))
            .fallback(error::not_found)
            .method_not_allowed_fallback(error::method_not_allowed)
            .with_state(state);
        Ok(layers::wrap(routes, self.config.max_body_bytes, cors))
    }
}
