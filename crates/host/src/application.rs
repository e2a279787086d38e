//! [`Application`]: the business logic one deployment hosts.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use angzarr_core::Result;
use angzarr_gateway::TypeRegistry;
use angzarr_runtime::{
    AggregateCoordinator, AggregateCoordinatorBuilder, CommandHandler, ProcessManager, Projector,
    ProjectorDispatch, Saga, Upcaster,
};

use crate::child::ChildProcess;
use crate::role::Role;

/// What part of an application a component is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A command handler.
    Aggregate,
    /// A projector.
    Projector,
    /// A saga.
    Saga,
    /// A process manager.
    ProcessManager,
    /// The upcaster.
    Upcaster,
}

impl Kind {
    /// Whether a process playing `role` calls components of this kind.
    pub fn used_by(self, role: Role) -> bool {
        match self {
            Kind::Aggregate | Kind::Upcaster => role.runs_aggregates(),
            Kind::Projector => role.runs_projectors(),
            Kind::Saga | Kind::ProcessManager => role.runs_sagas(),
        }
    }
}

/// A handler and the source domains whose books it receives (empty: every
/// domain).
#[derive(Debug)]
pub struct Subscribed<T: ?Sized> {
    /// The handler.
    pub handler: Arc<T>,
    /// The domains whose books it receives.
    pub domains: Vec<String>,
    /// For projectors: also run before the answer of `SYNC_MODE_SIMPLE`
    /// commands where the aggregate runs (the per-request topology).
    pub synchronous: bool,
    /// For process managers: the most destinations one `Prepare` may name
    /// (`None`: [`angzarr_runtime::process::DEFAULT_MAX_DESTINATIONS`]).
    pub max_destinations: Option<usize>,
}

impl<T: ?Sized> Clone for Subscribed<T> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            domains: self.domains.clone(),
            synchronous: self.synchronous,
            max_destinations: self.max_destinations,
        }
    }
}

impl<T: ?Sized> Subscribed<T> {
    /// `handler` receiving books of `domains` (empty: every domain).
    pub fn new<I, S>(handler: Arc<T>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            handler,
            domains: domains.into_iter().map(Into::into).collect(),
            synchronous: false,
            max_destinations: None,
        }
    }

    /// Whether books of `domain` reach this handler.
    pub fn wants(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d == domain)
    }
}

/// Where the message types of the JSON API come from.
#[derive(Clone)]
pub enum Types {
    /// Only the `angzarr` contract (protobuf requests work with any type).
    Contract,
    /// A registry built up front.
    Built(TypeRegistry),
    /// Built on first use by this function, so that roles without a JSON
    /// API do not pay for it at a cold start.
    Lazy(fn() -> Result<TypeRegistry>),
}

impl fmt::Debug for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Types::Contract => "Contract",
            Types::Built(_) => "Built",
            Types::Lazy(_) => "Lazy",
        })
    }
}

impl Types {
    /// The registry: built now for [`Types::Lazy`].
    pub fn registry(&self) -> Result<TypeRegistry> {
        match self {
            Types::Contract => Ok(TypeRegistry::new()),
            Types::Built(registry) => Ok(registry.clone()),
            Types::Lazy(build) => build(),
        }
    }
}

/// Everything a deployment's business logic consists of: command handlers
/// by domain, projectors and sagas by name with their source domains, an
/// upcaster, and the message types the JSON API reads and writes.
///
/// Built in Rust, from the configuration's `business` section
/// ([`crate::BusinessConfig::apply`]), or both: a configured component adds
/// to the code's, or replaces the one of the same domain or name.
///
/// ```
/// # fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>,
/// #         summary: std::sync::Arc<dyn angzarr_runtime::Projector>) {
/// let app = angzarr_host::Application::new()
///     .aggregate("cart", cart)
///     .projector(summary, ["order", "fulfillment"]);
/// assert_eq!(app.aggregate_domains(), ["cart"]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Application {
    aggregates: Vec<(String, Arc<dyn CommandHandler>)>,
    projectors: Vec<Subscribed<dyn Projector>>,
    sagas: Vec<Subscribed<dyn Saga>>,
    process_managers: Vec<Subscribed<dyn ProcessManager>>,
    upcaster: Option<Arc<dyn Upcaster>>,
    types: Types,
    children: Vec<(Kind, Arc<ChildProcess>)>,
}

impl Default for Application {
    fn default() -> Self {
        Self::new()
    }
}

impl Application {
    /// No business logic yet.
    pub fn new() -> Self {
        Self {
            aggregates: Vec::new(),
            projectors: Vec::new(),
            sagas: Vec::new(),
            process_managers: Vec::new(),
            upcaster: None,
            types: Types::Contract,
            children: Vec::new(),
        }
    }

    /// `domain`'s command handler, replacing an earlier one of `domain`.
    pub fn aggregate(
        mut self,
        domain: impl Into<String>,
        handler: Arc<dyn CommandHandler>,
    ) -> Self {
        let domain = domain.into();
        self.aggregates.retain(|(d, _)| *d != domain);
        self.aggregates.push((domain, handler));
        self
    }

    /// A projector reading the books of `domains` (empty: all), replacing an
    /// earlier one of the same name.
    pub fn projector<I, S>(self, projector: Arc<dyn Projector>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_projector(Subscribed::new(projector, domains))
    }

    /// A projector that also runs before the answer of `SYNC_MODE_SIMPLE`
    /// commands where the aggregates run (the later bus delivery is then a
    /// duplicate, which the firing guard absorbs).
    pub fn sync_projector<I, S>(self, projector: Arc<dyn Projector>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut entry = Subscribed::new(projector, domains);
        entry.synchronous = true;
        self.with_projector(entry)
    }

    fn with_projector(mut self, entry: Subscribed<dyn Projector>) -> Self {
        let name = entry.handler.name().to_owned();
        self.projectors.retain(|p| p.handler.name() != name);
        self.projectors.push(entry);
        self
    }

    /// A saga reacting to the books of `domains` (empty: all), replacing an
    /// earlier one of the same name.
    pub fn saga<I, S>(mut self, saga: Arc<dyn Saga>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let name = saga.name().to_owned();
        self.sagas.retain(|s| s.handler.name() != name);
        self.sagas.push(Subscribed::new(saga, domains));
        self
    }

    /// A process manager triggered by the books of `domains` (empty: all),
    /// replacing an earlier one of the same name. Its state is kept in the
    /// event store as domain `pm.name()`.
    pub fn process_manager<I, S>(self, pm: Arc<dyn ProcessManager>, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_process_manager(Subscribed::new(pm, domains))
    }

    /// A process manager as [`Application::process_manager`], with its
    /// subscription (and destination limit) given.
    pub fn with_process_manager(mut self, entry: Subscribed<dyn ProcessManager>) -> Self {
        let name = entry.handler.name().to_owned();
        self.process_managers.retain(|p| p.handler.name() != name);
        self.process_managers.push(entry);
        self
    }

    /// Upcasts loaded events before the command handlers see them.
    pub fn upcaster(mut self, upcaster: Arc<dyn Upcaster>) -> Self {
        self.upcaster = Some(upcaster);
        self
    }

    /// The message types the JSON API reads and writes.
    pub fn types(mut self, types: Types) -> Self {
        self.types = types;
        self
    }

    /// A process the host starts and supervises, serving a component of
    /// `kind` (the configuration's `command` components are added so).
    pub fn child(mut self, kind: Kind, child: Arc<ChildProcess>) -> Self {
        self.add_child(kind, child);
        self
    }

    pub(crate) fn add_child(&mut self, kind: Kind, child: Arc<ChildProcess>) {
        self.children.push((kind, child));
    }

    /// The processes the host starts, with the kind of component each serves.
    pub fn children(&self) -> &[(Kind, Arc<ChildProcess>)] {
        &self.children
    }

    /// Starts, all at once, the processes of the components `role` calls,
    /// and waits until each answers its health check; the others start on
    /// their first call. Call it before serving the first request: a
    /// process that cannot start fails with the configuration key.
    pub async fn start(&self, role: Role) -> Result<()> {
        let starting = self
            .children
            .iter()
            .filter(|(kind, _)| kind.used_by(role))
            .map(|(_, child)| child.start());
        futures::future::try_join_all(starting).await?;
        Ok(())
    }

    /// The aggregate pipeline of the command handlers (and upcaster) over
    /// `adapters`' store, snapshots and bus, with the configuration's
    /// `runtime` settings (snapshots, state cache, merge retries) and the
    /// synchronous projectors, run before the answer of `SYNC_MODE_SIMPLE`
    /// commands through `adapters`' firing guard (so the bus delivery that
    /// follows is a duplicate).
    pub fn coordinator(&self, adapters: &crate::Adapters) -> AggregateCoordinatorBuilder {
        let mut builder =
            AggregateCoordinator::builder(adapters.store.clone(), adapters.bus.clone())
                .snapshots(adapters.snapshots.clone())
                .firing_guard(adapters.guard.clone(), adapters.policy)
                .runtime_config(&adapters.config.runtime);
        for (domain, handler) in &self.aggregates {
            builder = builder.handler(domain, handler.clone());
        }
        if let Some(upcaster) = &self.upcaster {
            builder = builder.upcaster(upcaster.clone());
        }
        let synchronous: Vec<_> = self
            .projectors
            .iter()
            .filter(|p| p.synchronous)
            .map(|p| p.handler.clone())
            .collect();
        if !synchronous.is_empty() {
            let dispatch = ProjectorDispatch::new(adapters.guard.clone(), adapters.policy);
            builder = builder.sync_projectors(Arc::new(dispatch), synchronous);
        }
        builder
    }

    /// The command handlers, by domain, in the order added.
    pub fn aggregates(&self) -> &[(String, Arc<dyn CommandHandler>)] {
        &self.aggregates
    }

    /// The domains with a command handler here.
    pub fn aggregate_domains(&self) -> Vec<String> {
        self.aggregates.iter().map(|(d, _)| d.clone()).collect()
    }

    /// `domain`'s command handler, if hosted here.
    pub fn handler(&self, domain: &str) -> Option<&Arc<dyn CommandHandler>> {
        self.aggregates
            .iter()
            .find(|(d, _)| d == domain)
            .map(|(_, handler)| handler)
    }

    /// The projectors with their source domains.
    pub fn projectors(&self) -> &[Subscribed<dyn Projector>] {
        &self.projectors
    }

    /// The sagas with their source domains.
    pub fn sagas(&self) -> &[Subscribed<dyn Saga>] {
        &self.sagas
    }

    /// The process managers with their trigger domains.
    pub fn process_managers(&self) -> &[Subscribed<dyn ProcessManager>] {
        &self.process_managers
    }

    /// The upcaster, if any.
    pub fn upcaster_handler(&self) -> Option<&Arc<dyn Upcaster>> {
        self.upcaster.as_ref()
    }

    /// Where the JSON API's message types come from.
    pub fn message_types(&self) -> &Types {
        &self.types
    }

    /// Every domain events are published on or read from: the aggregates',
    /// the process managers' (their state), and the sources of projectors,
    /// sagas and process managers.
    pub fn event_domains(&self) -> BTreeSet<String> {
        let mut domains: BTreeSet<String> = self.aggregate_domains().into_iter().collect();
        for entry in &self.projectors {
            domains.extend(entry.domains.iter().cloned());
        }
        for entry in &self.sagas {
            domains.extend(entry.domains.iter().cloned());
        }
        for entry in &self.process_managers {
            domains.extend(entry.domains.iter().cloned());
            // Its state's events are published too.
            domains.insert(entry.handler.name().to_owned());
        }
        domains
    }
}
