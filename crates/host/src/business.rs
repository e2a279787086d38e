//! [`BusinessConfig`]: the configuration's `business` section, which names
//! business logic served over gRPC, so that the stock binaries host a team's
//! application in any language without a line of Rust.
//!
//! ```yaml
//! business:
//!   aggregates: { cart: { grpc: "http://127.0.0.1:50051" } }
//!   projectors: { order-summary: { grpc: "http://127.0.0.1:50052", domains: [order, fulfillment] } }
//!   sagas:      { fulfillment: { grpc: "http://127.0.0.1:50053", domains: [order] } }
//!   process_managers:
//!     order-workflow: { grpc: "http://127.0.0.1:50055", domains: [order, stock], max_destinations: 4 }
//!   upcaster:   { grpc: "http://127.0.0.1:50054" }
//!   descriptors: /etc/angzarr/types.binpb   # FileDescriptorSet for the JSON API (optional)
//!   timeout_ms: 10000                       # deadline of each call
//!   start_timeout_ms: 30000                 # how long a started command may take to serve
//! ```
//!
//! Each component is a service of the wire contract
//! (`angzarr.CommandHandlerService`, `ProjectorService`, `SagaService`,
//! `ProcessManagerService`, `UpcasterService`), either at a `grpc` URL (`http://` or `https://`) or
//! started by the host itself from a `command`, reached over a Unix socket
//! (see [`crate::ChildProcess`]) — the way business logic runs beside a
//! Lambda function:
//!
//! ```yaml
//! business:
//!   aggregates:
//!     cart: { command: ["python3", "-m", "shop_services", "cart"], socket: auto, env: { LOG_LEVEL: info } }
//! ```
//!
//! An aggregate gets its whole history with every command unless it says it
//! folds the snapshot it is given (`snapshots: true`): the published client
//! libraries' class-based aggregates ignore it.
//!
//! `socket` is `auto` (a fresh path in the temporary directory, the default)
//! or a path; the process finds it in `ANGZARR_SOCKET`. A projector, saga or
//! process manager is known by its name (the map key), which is part of its
//! firing-guard keys (and a process manager's state domain); `domains` lists
//! its source domains (empty or absent: every domain). `max_destinations`
//! (process managers only; default 16) bounds what one `Prepare` may name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::{Error, Result};
use angzarr_gateway::TypeRegistry;
use angzarr_runtime::grpc::client::{
    GrpcCommandHandler, GrpcProcessManager, GrpcProjector, GrpcSaga, GrpcTarget, GrpcUpcaster,
};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::application::{Application, Kind, Subscribed, Types};
use crate::child::ChildProcess;

/// The section's name in the configuration tree.
pub const SECTION: &str = "business";

/// The `business` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessConfig {
    /// Command handlers by domain.
    pub aggregates: BTreeMap<String, Component>,
    /// Projectors by name.
    pub projectors: BTreeMap<String, Subscriber>,
    /// Sagas by name.
    pub sagas: BTreeMap<String, Subscriber>,
    /// Process managers by name (the domain of their state).
    pub process_managers: BTreeMap<String, Subscriber>,
    /// The upcaster applied to every domain's events.
    pub upcaster: Option<Component>,
    /// A file holding an encoded `google.protobuf.FileDescriptorSet` with the
    /// application's message types, for the JSON API.
    pub descriptors: Option<PathBuf>,
    /// Deadline of each call to a component, in milliseconds.
    pub timeout_ms: u64,
    /// How long a component started from a `command` may take to answer its
    /// health check, in milliseconds.
    pub start_timeout_ms: u64,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        Self {
            aggregates: BTreeMap::new(),
            projectors: BTreeMap::new(),
            sagas: BTreeMap::new(),
            process_managers: BTreeMap::new(),
            upcaster: None,
            descriptors: None,
            timeout_ms: 10_000,
            start_timeout_ms: 30_000,
        }
    }
}

/// Where one component answers: a `grpc` URL, or a `command` the host starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Component {
    /// The gRPC service's URL (`http://host:port` or `https://host`).
    pub grpc: Option<String>,
    /// The program and arguments the host starts instead.
    pub command: Vec<String>,
    /// With `command`: `auto` (default) or the path of the Unix socket.
    pub socket: Option<String>,
    /// With `command`: variables added to the process's environment.
    pub env: BTreeMap<String, String>,
    /// Aggregates only: the handler folds the snapshot it is given with each
    /// command (`ContextualCommand.events.snapshot`), so the runtime may send
    /// a snapshot or its cached state and only the events after it. Off by
    /// default: the handler gets the whole history, as the published client
    /// libraries' class-based aggregates need (they ignore the snapshot).
    pub snapshots: bool,
}

/// A projector or saga: where it answers and what it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subscriber {
    /// The gRPC service's URL.
    pub grpc: Option<String>,
    /// The program and arguments the host starts instead.
    pub command: Vec<String>,
    /// With `command`: `auto` (default) or the path of the Unix socket.
    pub socket: Option<String>,
    /// With `command`: variables added to the process's environment.
    pub env: BTreeMap<String, String>,
    /// The source domains (empty: every domain).
    pub domains: Vec<String>,
    /// Projectors only: also run before the answer of `SYNC_MODE_SIMPLE`
    /// commands where the aggregates run.
    pub synchronous: bool,
    /// Process managers only: the most destinations one `Prepare` may name.
    pub max_destinations: Option<usize>,
}

impl Subscriber {
    fn component(&self) -> Component {
        Component {
            grpc: self.grpc.clone(),
            command: self.command.clone(),
            socket: self.socket.clone(),
            env: self.env.clone(),
            snapshots: false,
        }
    }
}

impl BusinessConfig {
    /// The `business` section of `figment` (see
    /// [`angzarr_core::config::Config::figment`]).
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        angzarr_core::config::section(figment, SECTION)
    }

    /// Whether the section names nothing.
    pub fn is_empty(&self) -> bool {
        self.aggregates.is_empty()
            && self.projectors.is_empty()
            && self.sagas.is_empty()
            && self.process_managers.is_empty()
            && self.upcaster.is_none()
            && self.descriptors.is_none()
    }

    /// Adds every configured component to `app` (replacing one of the same
    /// domain or name), connecting lazily: nothing is dialled or started
    /// until the first call or [`Application::start`]. Fails, naming the
    /// key, on a name that is empty, a component with neither or both of
    /// `grpc` and `command`, a URL that is not `http(s)://host[:port]`, a
    /// saga marked `synchronous`, or a descriptor file that cannot be read or
    /// is no `FileDescriptorSet`.
    pub fn apply(&self, mut app: Application) -> Result<Application> {
        for (key, value) in [
            ("business.timeout_ms", self.timeout_ms),
            ("business.start_timeout_ms", self.start_timeout_ms),
        ] {
            if value == 0 {
                return Err(Error::config(key, "must be above 0 (milliseconds)"));
            }
        }
        let timeout = Duration::from_millis(self.timeout_ms);
        for (domain, component) in &self.aggregates {
            let key = format!("business.aggregates.{domain}");
            let target = self.target(
                &mut app,
                Kind::Aggregate,
                &key,
                &format!("aggregate {domain}"),
                component,
            )?;
            app = app.aggregate(
                domain.clone(),
                Arc::new(
                    GrpcCommandHandler::new(target.with_timeout(timeout))
                        .reads_snapshots(component.snapshots),
                ),
            );
        }
        for (name, subscriber) in &self.projectors {
            let key = format!("business.projectors.{name}");
            check_domains(&key, &subscriber.domains)?;
            let target = self.target(
                &mut app,
                Kind::Projector,
                &key,
                name,
                &subscriber.component(),
            )?;
            only_process_managers(&key, subscriber)?;
            let projector = Arc::new(GrpcProjector::new(target.with_timeout(timeout)));
            app = if subscriber.synchronous {
                app.sync_projector(projector, subscriber.domains.clone())
            } else {
                app.projector(projector, subscriber.domains.clone())
            };
        }
        for (name, subscriber) in &self.sagas {
            let key = format!("business.sagas.{name}");
            check_domains(&key, &subscriber.domains)?;
            if subscriber.synchronous {
                return Err(Error::config(
                    format!("{key}.synchronous"),
                    "only projectors run synchronously",
                ));
            }
            only_process_managers(&key, subscriber)?;
            let target = self.target(&mut app, Kind::Saga, &key, name, &subscriber.component())?;
            app = app.saga(
                Arc::new(GrpcSaga::new(target.with_timeout(timeout))),
                subscriber.domains.clone(),
            );
        }
        for (name, subscriber) in &self.process_managers {
            let key = format!("business.process_managers.{name}");
            check_domains(&key, &subscriber.domains)?;
            if subscriber.synchronous {
                return Err(Error::config(
                    format!("{key}.synchronous"),
                    "only projectors run synchronously",
                ));
            }
            if subscriber.domains.iter().any(|d| d == name) {
                return Err(Error::config(
                    format!("{key}.domains"),
                    "a process manager is not triggered by its own state's domain",
                ));
            }
            let target = self.target(
                &mut app,
                Kind::ProcessManager,
                &key,
                name,
                &subscriber.component(),
            )?;
            let mut entry = Subscribed::new(
                Arc::new(GrpcProcessManager::new(target.with_timeout(timeout)))
                    as Arc<dyn angzarr_runtime::ProcessManager>,
                subscriber.domains.clone(),
            );
            entry.max_destinations = subscriber.max_destinations;
            app = app.with_process_manager(entry);
        }
        if let Some(component) = &self.upcaster {
            if component.snapshots {
                return Err(Error::config(
                    "business.upcaster.snapshots",
                    "only aggregates are given snapshots",
                ));
            }
            let target = self.target(
                &mut app,
                Kind::Upcaster,
                "business.upcaster",
                "upcaster",
                component,
            )?;
            app = app.upcaster(Arc::new(GrpcUpcaster::new(target.with_timeout(timeout))));
        }
        if let Some(path) = &self.descriptors {
            app = app.types(Types::Built(read_descriptors(path)?));
        }
        Ok(app)
    }

    /// A lazily connected target for the component at `key`, after checking
    /// its name and where it answers; a `command` becomes a child process of
    /// `app`'s.
    fn target(
        &self,
        app: &mut Application,
        kind: Kind,
        key: &str,
        name: &str,
        component: &Component,
    ) -> Result<GrpcTarget> {
        if name.trim().is_empty() {
            return Err(Error::config(key, "a component needs a name"));
        }
        match (&component.grpc, component.command.is_empty()) {
            (Some(url), true) => {
                if component.socket.is_some() || !component.env.is_empty() {
                    return Err(Error::config(
                        key,
                        "`socket` and `env` go with `command`, not with `grpc`",
                    ));
                }
                check_url(&format!("{key}.grpc"), url)?;
                GrpcTarget::new(name, url)
                    .map_err(|e| Error::config(format!("{key}.grpc"), e.to_string()))
            }
            (None, false) => {
                let socket = match component.socket.as_deref().map(str::trim) {
                    None | Some("auto") => None,
                    Some("") => {
                        return Err(Error::config(
                            format!("{key}.socket"),
                            "is empty (`auto`, or the socket's path)",
                        ));
                    }
                    Some(path) => Some(PathBuf::from(path)),
                };
                let child = ChildProcess::new(
                    key,
                    name,
                    component.command.clone(),
                    socket,
                    component.env.clone(),
                    Duration::from_millis(self.start_timeout_ms),
                )?;
                let target = child.target(name);
                app.add_child(kind, child);
                Ok(target)
            }
            (Some(_), false) => Err(Error::config(
                key,
                "give either `grpc` (a URL) or `command` (a program the host starts), not both",
            )),
            (None, true) => Err(Error::config(
                key,
                "needs `grpc` (the service's URL) or `command` (a program the host starts)",
            )),
        }
    }
}

/// `max_destinations` is for process managers.
fn only_process_managers(key: &str, subscriber: &Subscriber) -> Result<()> {
    if subscriber.max_destinations.is_some() {
        return Err(Error::config(
            format!("{key}.max_destinations"),
            "only process managers name destinations",
        ));
    }
    Ok(())
}

fn check_domains(key: &str, domains: &[String]) -> Result<()> {
    if domains.iter().any(|d| d.trim().is_empty()) {
        return Err(Error::config(
            format!("{key}.domains"),
            "a source domain is empty (leave `domains` out to read every domain)",
        ));
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host and no path beyond `/`.
fn check_url(key: &str, url: &str) -> Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::config(key, format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::config(
            key,
            format!(
                "`{url}`: the scheme must be http or https, not `{}`",
                parsed.scheme()
            ),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(key, format!("`{url}` has no host")));
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(Error::config(
            key,
            format!("`{url}`: a gRPC service is addressed by scheme, host and port only"),
        ));
    }
    Ok(())
}

/// The message types of an encoded `FileDescriptorSet` file.
fn read_descriptors(path: &PathBuf) -> Result<TypeRegistry> {
    const KEY: &str = "business.descriptors";
    let bytes = std::fs::read(path)
        .map_err(|e| Error::config(KEY, format!("cannot read `{}`: {e}", path.display())))?;
    let mut registry = TypeRegistry::new();
    registry.add_encoded(&bytes).map_err(|e| {
        Error::config(
            KEY,
            format!(
                "`{}` is not an encoded FileDescriptorSet (`protoc --include_imports \
                 --descriptor_set_out`): {e}",
                path.display()
            ),
        )
    })?;
    Ok(registry)
}
