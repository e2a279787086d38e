//! Sending commands to aggregates: in process, or found through discovery.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use angzarr_core::proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_core::proto::{
    CommandRequest, CommandResponse, EventRequest, FactInjectionResponse,
    SpeculateCommandHandlerRequest,
};
use angzarr_core::{Error, Result, ServiceDiscovery};
use async_trait::async_trait;

use crate::aggregate::AggregateCoordinator;
use crate::grpc::client::GrpcTarget;

/// Sends a command to its domain's aggregate.
#[async_trait]
pub trait CommandRouter: Send + Sync + fmt::Debug {
    /// Runs `request` at the aggregate of its cover's domain.
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse>;

    /// Appends the facts of `request` to the aggregate of its cover
    /// ([`AggregateCoordinator::inject`]).
    async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        let _ = request;
        Err(unserved("fact injection (HandleEvent)"))
    }

    /// Runs a command as of a point in its aggregate's history, persisting
    /// and publishing nothing ([`AggregateCoordinator::speculate`]).
    async fn speculate(&self, request: SpeculateCommandHandlerRequest) -> Result<CommandResponse> {
        let _ = request;
        Err(unserved("speculative commands (HandleSyncSpeculative)"))
    }
}

fn unserved(what: &str) -> Error {
    Error::Unsupported {
        backend: "router".into(),
        operation: format!("{what} is not served by this route").into(),
    }
}

/// The domain of a fact's cover: where it is routed.
pub fn fact_domain(request: &EventRequest) -> Result<String> {
    cover_domain(
        request.events.as_ref().and_then(|book| book.cover.as_ref()),
        "fact",
    )
}

/// The domain of `request`'s cover: where it is routed.
pub fn command_domain(request: &CommandRequest) -> Result<String> {
    cover_domain(
        request.command.as_ref().and_then(|c| c.cover.as_ref()),
        "command",
    )
}

/// The non-empty domain of `cover`; `what` names the message in the error.
fn cover_domain(cover: Option<&angzarr_core::proto::Cover>, what: &str) -> Result<String> {
    cover
        .map(|c| c.domain.clone())
        .filter(|domain| !domain.is_empty())
        .ok_or_else(|| Error::invalid_argument(format!("{what} has no cover with a domain")))
}

/// How commands reach an aggregate elsewhere, for the endpoint schemes it
/// speaks: an endpoint names its protocol (`grpc://`, `https://`,
/// `lambda:`), never a convention of the platform.
#[async_trait]
pub trait CommandTransport: Send + Sync + fmt::Debug {
    /// The URL schemes spoken (`grpc`, `grpcs`; `http`, `https`; `lambda`).
    fn schemes(&self) -> &'static [&'static str];

    /// Runs `request` at `domain`'s aggregate at `endpoint`.
    async fn send(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: CommandRequest,
    ) -> Result<CommandResponse>;

    /// Appends facts at `domain`'s aggregate at `endpoint`.
    async fn inject(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: EventRequest,
    ) -> Result<FactInjectionResponse> {
        let _ = (domain, request);
        Err(unserved(&format!(
            "fact injection to `{}:` endpoints",
            endpoint.scheme()
        )))
    }

    /// Runs a command speculatively at `domain`'s aggregate at `endpoint`.
    async fn speculate(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse> {
        let _ = (domain, request);
        Err(unserved(&format!(
            "speculative commands to `{}:` endpoints",
            endpoint.scheme()
        )))
    }
}

/// Coordinators over gRPC (`CommandHandlerCoordinatorService`):
/// `grpc://host:port` in plaintext, `grpcs://host[:port]` over TLS. One
/// lazily connected channel per endpoint.
#[derive(Debug, Default)]
pub struct GrpcTransport {
    channels: Mutex<HashMap<String, GrpcTarget>>,
}

impl GrpcTransport {
    fn target(&self, domain: &str, endpoint: &url::Url) -> Result<GrpcTarget> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(target) = channels.get(endpoint.as_str()) {
            return Ok(target.clone());
        }
        let scheme = if endpoint.scheme() == "grpcs" {
            "https"
        } else {
            "http"
        };
        let host = endpoint.host_str().unwrap_or_default();
        let address = match endpoint.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        let target = GrpcTarget::new(format!("aggregate {domain}"), &address)?;
        channels.insert(endpoint.to_string(), target.clone());
        Ok(target)
    }
}

#[async_trait]
impl CommandTransport for GrpcTransport {
    fn schemes(&self) -> &'static [&'static str] {
        &["grpc", "grpcs"]
    }

    async fn send(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: CommandRequest,
    ) -> Result<CommandResponse> {
        let target = self.target(domain, endpoint)?;
        let mut client = CommandHandlerCoordinatorServiceClient::new(target.channel().await?);
        target
            .call(client.handle_command(target.request(request)))
            .await
    }

    async fn inject(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: EventRequest,
    ) -> Result<FactInjectionResponse> {
        let target = self.target(domain, endpoint)?;
        let mut client = CommandHandlerCoordinatorServiceClient::new(target.channel().await?);
        target
            .call(client.handle_event(target.request(request)))
            .await
    }

    async fn speculate(
        &self,
        domain: &str,
        endpoint: &url::Url,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse> {
        let target = self.target(domain, endpoint)?;
        let mut client = CommandHandlerCoordinatorServiceClient::new(target.channel().await?);
        target
            .call(client.handle_sync_speculative(target.request(request)))
            .await
    }
}

/// The one command router of every host: a local coordinator for the
/// domains it handles, and otherwise the endpoint discovery names for the
/// domain, over the transport of its scheme (gRPC always; the platforms add
/// theirs).
#[derive(Debug)]
pub struct DiscoveryRouter {
    local: Option<Arc<AggregateCoordinator>>,
    discovery: Arc<dyn ServiceDiscovery>,
    transports: Vec<Arc<dyn CommandTransport>>,
}

impl DiscoveryRouter {
    /// Routes through `discovery`, preferring `local` for its domains; speaks
    /// gRPC ([`GrpcTransport`]).
    pub fn new(
        local: Option<Arc<AggregateCoordinator>>,
        discovery: Arc<dyn ServiceDiscovery>,
    ) -> Self {
        Self {
            local,
            discovery,
            transports: vec![Arc::new(GrpcTransport::default())],
        }
    }

    /// Also speaks `transport`'s schemes (replacing an earlier transport of
    /// the same scheme).
    pub fn with_transport(mut self, transport: Arc<dyn CommandTransport>) -> Self {
        let schemes = transport.schemes();
        self.transports
            .retain(|t| !t.schemes().iter().any(|s| schemes.contains(s)));
        self.transports.push(transport);
        self
    }

    fn transport(&self, endpoint: &url::Url) -> Result<&Arc<dyn CommandTransport>> {
        self.transports
            .iter()
            .find(|t| t.schemes().contains(&endpoint.scheme()))
            .ok_or_else(|| {
                let spoken: Vec<String> = self
                    .transports
                    .iter()
                    .flat_map(|t| t.schemes().iter().map(|s| format!("{s}:")))
                    .collect();
                Error::config(
                    "discovery",
                    format!(
                        "no transport here for `{endpoint}`; this host speaks {}",
                        spoken.join(", ")
                    ),
                )
            })
    }
}

#[async_trait]
impl CommandRouter for DiscoveryRouter {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        let domain = command_domain(&request)?;
        if let Some(local) = self.local.as_ref().filter(|l| l.handles(&domain)) {
            return local.handle(request).await;
        }
        let endpoint = self.discovery.aggregate(&domain).await?;
        self.transport(&endpoint)?
            .send(&domain, &endpoint, request)
            .await
    }

    async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        let domain = fact_domain(&request)?;
        if let Some(local) = self.local.as_ref().filter(|l| l.handles(&domain)) {
            return local.inject(request).await;
        }
        let endpoint = self.discovery.aggregate(&domain).await?;
        self.transport(&endpoint)?
            .inject(&domain, &endpoint, request)
            .await
    }

    async fn speculate(&self, request: SpeculateCommandHandlerRequest) -> Result<CommandResponse> {
        let domain = cover_domain(
            request.command.as_ref().and_then(|c| c.cover.as_ref()),
            "command",
        )?;
        if let Some(local) = self.local.as_ref().filter(|l| l.handles(&domain)) {
            return local.speculate(request).await;
        }
        let endpoint = self.discovery.aggregate(&domain).await?;
        self.transport(&endpoint)?
            .speculate(&domain, &endpoint, request)
            .await
    }
}
