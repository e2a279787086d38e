//! [`Handlers`]: the business logic a deployment hosts, whichever role it plays.

use std::collections::BTreeSet;
use std::sync::Arc;

use angzarr_core::Result;
use angzarr_gateway::TypeRegistry;
use angzarr_host::{Application, Subscribed, Types};
use angzarr_runtime::{CommandHandler, Projector, Saga};
use axum::Router;

/// A projector with the domains whose events it reads (one push
/// subscription each), and whether it also runs before the answer of
/// `SYNC_MODE_SIMPLE` commands in the `all` role.
pub type ProjectorEntry = Subscribed<dyn Projector>;

/// A saga with the domains whose events it reads.
pub type SagaEntry = Subscribed<dyn Saga>;

/// What a Cloud Run service hosts: the [`Application`] (command handlers by
/// domain, projectors and sagas with their source domains, the message types
/// the gateway reads as JSON) and extra routes (a read-model API).
///
/// ```no_run
/// # fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>,
/// #         summary: std::sync::Arc<dyn angzarr_runtime::Projector>) {
/// let handlers = angzarr_cloudrun::Handlers::new()
///     .aggregate("cart", cart)
///     .projector(summary, ["order", "fulfillment"]);
/// # let _ = handlers; }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Handlers {
    pub(crate) app: Application,
    pub(crate) projector_routes: Option<Router>,
}

impl From<Application> for Handlers {
    fn from(app: Application) -> Self {
        Self {
            app,
            projector_routes: None,
        }
    }
}

impl Handlers {
    /// No business logic yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `domain`'s command handler.
    pub fn aggregate(
        mut self,
        domain: impl Into<String>,
        handler: Arc<dyn CommandHandler>,
    ) -> Self {
        self.app = self.app.aggregate(domain, handler);
        self
    }

    /// A projector reading the events of `domains`.
    pub fn projector<I, S>(mut self, projector: Arc<dyn Projector>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.app = self.app.projector(projector, domains);
        self
    }

    /// A projector that, in the `all` role, also runs before the answer of
    /// `SYNC_MODE_SIMPLE` commands (the bus delivery after is then a duplicate).
    pub fn sync_projector<I, S>(mut self, projector: Arc<dyn Projector>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.app = self.app.sync_projector(projector, domains);
        self
    }

    /// A saga reacting to the events of `domains`.
    pub fn saga<I, S>(mut self, saga: Arc<dyn Saga>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.app = self.app.saga(saga, domains);
        self
    }

    /// The message types the gateway reads and writes as JSON (default: the
    /// `angzarr` contract only; protobuf requests work with any type).
    pub fn types(mut self, registry: TypeRegistry) -> Self {
        self.app = self.app.types(Types::Built(registry));
        self
    }

    /// The application hosted.
    pub fn application(&self) -> &Application {
        &self.app
    }

    /// Replaces the application by what `change` makes of it (say, the
    /// configuration's `business` section applied to it).
    pub fn with_application(
        mut self,
        change: impl FnOnce(Application) -> Result<Application>,
    ) -> Result<Self> {
        self.app = change(self.app)?;
        Ok(self)
    }

    /// Routes served wherever the projectors run (`projector-trigger` and
    /// `all`), e.g. a read model's query API.
    pub fn projector_routes(mut self, routes: Router) -> Self {
        self.projector_routes = Some(routes);
        self
    }

    /// The domains with a command handler.
    pub fn aggregate_domains(&self) -> Vec<String> {
        self.app.aggregate_domains()
    }

    /// The projectors.
    pub fn projectors(&self) -> &[ProjectorEntry] {
        self.app.projectors()
    }

    /// The sagas.
    pub fn sagas(&self) -> &[SagaEntry] {
        self.app.sagas()
    }

    /// Every domain events are published on: the aggregates' and the
    /// projectors' and sagas' sources.
    pub fn event_domains(&self) -> BTreeSet<String> {
        self.app.event_domains()
    }
}
