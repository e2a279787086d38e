//! [`App`]: the adapters and the business logic, as one axum router per role.

use std::sync::Arc;

use angzarr_bus_pubsub::push::PushAuth;
use angzarr_core::Result;
use angzarr_gateway::{Gateway, GatewayConfig, ReadinessProbe, StoreProbe};
use angzarr_runtime::{
    AggregateCoordinator, CommandRouter, DiscoveryRouter, EventQueries, MemoryDeadLetters,
};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use crate::handlers::Handlers;
use crate::settings::ServerSettings;
use crate::triggers;
use angzarr_host::Adapters;
use angzarr_host::{HttpTransport, Role, Types};
use angzarr_host::{TriggerStats, Triggers};

/// The business logic on its adapters; [`App::router`] gives each role's
/// HTTP service. Build it once per process.
#[derive(Debug)]
pub struct App {
    adapters: Adapters,
    handlers: Handlers,
    coordinator: Arc<AggregateCoordinator>,
    remote: Arc<DiscoveryRouter>,
    local_first: Arc<DiscoveryRouter>,
    stats: TriggerStats,
    dead_letters: MemoryDeadLetters,
    push_auth: Option<PushAuth>,
    gateway_config: GatewayConfig,
}

impl App {
    /// Hosts `handlers` on `adapters`, with the coordinator settings of the
    /// configuration's `runtime` section and the command timeout of
    /// `settings`.
    pub fn new(adapters: Adapters, handlers: Handlers, settings: &ServerSettings) -> Result<Self> {
        let coordinator = Arc::new(handlers.app.coordinator(&adapters).build());
        let http = Arc::new(HttpTransport::new()?.with_timeout(settings.command_timeout()));
        let remote =
            DiscoveryRouter::new(None, adapters.discovery.clone()).with_transport(http.clone());
        let local_first =
            DiscoveryRouter::new(Some(coordinator.clone()), adapters.discovery.clone())
                .with_transport(http);
        Ok(Self {
            coordinator,
            remote: Arc::new(remote),
            local_first: Arc::new(local_first),
            stats: TriggerStats::default(),
            dead_letters: MemoryDeadLetters::new(),
            push_auth: None,
            gateway_config: GatewayConfig::default(),
            adapters,
            handlers,
        })
    }

    /// Requires a valid Pub/Sub OIDC token on every push request.
    pub fn with_push_auth(mut self, auth: PushAuth) -> Self {
        self.push_auth = Some(auth);
        self
    }

    /// The gateway's settings (body limit, page size, CORS), e.g. from
    /// [`GatewayConfig::load`]; the defaults otherwise.
    pub fn with_gateway_config(mut self, config: GatewayConfig) -> Self {
        self.gateway_config = config;
        self
    }

    /// The adapters.
    pub fn adapters(&self) -> &Adapters {
        &self.adapters
    }

    /// The in-process coordinator of the hosted aggregates.
    pub fn coordinator(&self) -> Arc<AggregateCoordinator> {
        self.coordinator.clone()
    }

    /// Delivery counts of this process's push endpoints.
    pub fn stats(&self) -> TriggerStats {
        self.stats.clone()
    }

    /// Saga commands their target refused for good (also logged at error level).
    pub fn dead_letters(&self) -> MemoryDeadLetters {
        self.dead_letters.clone()
    }

    /// The HTTP service of `role`.
    ///
    /// | role | routes |
    /// |---|---|
    /// | `gateway` | `POST /v1/commands` (to the aggregate services, over HTTP), `GET /v1/events/{domain}/{root}`, `GET /health/{live,ready}` |
    /// | `aggregate` | the same routes, commands run in process (only the hosted domains) |
    /// | `projector-trigger` | `POST /push/projectors/{name}`, the projector routes, health |
    /// | `saga-trigger` | `POST /push/sagas/{name}` (commands to the aggregate services, over HTTP), health |
    /// | `all` | all of it, commands and saga commands in process |
    pub fn router(&self, role: Role) -> Result<Router> {
        let probe: Arc<dyn ReadinessProbe> = Arc::new(StoreProbe::new(self.adapters.store.clone()));
        let mut router = match role {
            Role::Gateway => self.gateway(self.remote.clone(), probe.clone(), None)?,
            Role::Aggregate => self.gateway(
                self.coordinator.clone(),
                probe.clone(),
                Some(self.handlers.aggregate_domains()),
            )?,
            Role::All => self.gateway(self.local_first.clone(), probe.clone(), None)?,
            Role::ProjectorTrigger | Role::SagaTrigger => health(probe.clone()),
        };
        if role.runs_projectors() || role.runs_sagas() {
            let commands: Arc<dyn CommandRouter> = if role == Role::All {
                self.local_first.clone()
            } else {
                self.remote.clone()
            };
            let triggers = Triggers::from_adapters(
                &self.adapters,
                commands,
                Arc::new(self.dead_letters.clone()),
            )
            .with_application(
                &self.handlers.app,
                role.runs_projectors(),
                role.runs_sagas(),
            )
            .with_stats(self.stats.clone());
            router = router.merge(triggers::routes(
                &Arc::new(triggers),
                self.push_auth.as_ref(),
            ));
        }
        if role.runs_projectors()
            && let Some(extra) = &self.handlers.projector_routes
        {
            router = router.merge(extra.clone());
        }
        Ok(router)
    }

    fn gateway(
        &self,
        commands: Arc<dyn CommandRouter>,
        probe: Arc<dyn ReadinessProbe>,
        domains: Option<Vec<String>>,
    ) -> Result<Router> {
        let mut builder =
            Gateway::builder(commands, EventQueries::new(self.adapters.store.clone()))
                .readiness(probe)
                .config(self.gateway_config.clone());
        if !matches!(self.handlers.app.message_types(), Types::Contract) {
            builder = builder.types(self.handlers.app.message_types().registry()?);
        }
        if let Some(domains) = domains {
            builder = builder.domains(domains);
        }
        builder.build()
    }
}

/// `GET /health/live`, `GET /health/ready` and a JSON 404, for the trigger roles.
fn health(probe: Arc<dyn ReadinessProbe>) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { json(StatusCode::OK, r#"{"status":"live"}"#) }),
        )
        .route("/health/ready", get(ready))
        .fallback(|| async {
            json(
                StatusCode::NOT_FOUND,
                r#"{"error":{"code":"not_found","message":"no such path"}}"#,
            )
        })
        .with_state(probe)
}

async fn ready(State(probe): State<Arc<dyn ReadinessProbe>>) -> Response {
    match probe.check().await {
        Ok(()) => json(StatusCode::OK, r#"{"status":"ready"}"#),
        Err(error) => {
            let body = serde_json::json!({
                "error": { "code": error.code().as_str(), "message": error.to_string() }
            });
            json(error.http_status(), &body.to_string())
        }
    }
}

fn json(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}
