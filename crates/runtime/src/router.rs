//! Sending commands to aggregates: in process, or found through discovery.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use angzarr_core::proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_core::{Error, Result, ServiceDiscovery};
use async_trait::async_trait;

use crate::aggregate::AggregateCoordinator;
use crate::grpc::client::GrpcTarget;

/// Sends a command to its domain's aggregate.
#[async_trait]
pub trait CommandRouter: Send + Sync + fmt::Debug {
    /// Runs `request` at the aggregate of its cover's domain.
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse>;
}

/// Routes to a local coordinator for the domains it handles, and otherwise
/// to the aggregate service that discovery names (over gRPC).
#[derive(Debug)]
pub struct DiscoveryRouter {
    local: Option<Arc<AggregateCoordinator>>,
    discovery: Arc<dyn ServiceDiscovery>,
    channels: Mutex<HashMap<String, GrpcTarget>>,
}

impl DiscoveryRouter {
    /// Routes through `discovery`, preferring `local` for its domains.
    pub fn new(
        local: Option<Arc<AggregateCoordinator>>,
        discovery: Arc<dyn ServiceDiscovery>,
    ) -> Self {
        Self {
            local,
            discovery,
            channels: Mutex::default(),
        }
    }

    fn target(&self, domain: &str, url: &url::Url) -> Result<GrpcTarget> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(target) = channels.get(url.as_str()) {
            return Ok(target.clone());
        }
        let target = GrpcTarget::new(format!("aggregate {domain}"), url.as_str())?;
        channels.insert(url.to_string(), target.clone());
        Ok(target)
    }
}

#[async_trait]
impl CommandRouter for DiscoveryRouter {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        let domain = request
            .command
            .as_ref()
            .and_then(|c| c.cover.as_ref())
            .map(|c| c.domain.clone())
            .ok_or_else(|| Error::invalid_argument("command has no cover"))?;
        if let Some(local) = self.local.as_ref().filter(|l| l.handles(&domain)) {
            return local.handle(request).await;
        }
        let url = self.discovery.aggregate(&domain).await?;
        let target = self.target(&domain, &url)?;
        let mut client = CommandHandlerCoordinatorServiceClient::new(target.channel().await?);
        target
            .call(client.handle_command(target.request(request)))
            .await
    }
}
