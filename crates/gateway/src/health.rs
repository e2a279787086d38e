//! `GET /health/live` and `GET /health/ready`.
//!
//! Liveness always answers 200: the process serves HTTP. Readiness asks a
//! [`ReadinessProbe`] the host supplies (for instance [`StoreProbe`]: the
//! event store answers) and answers 200 `{"status":"ready"}`, or the probe's
//! error as JSON with its status (503 for an unreachable backend).

use std::fmt;
use std::sync::Arc;

use angzarr_core::{AggregateKey, EventStore, Result};
use async_trait::async_trait;
use axum::extract::State;
use axum::response::Response;

use crate::codec::{self, Format};
use crate::error::ApiError;
use crate::state::Shared;

/// Whether the gateway's dependencies can serve requests.
#[async_trait]
pub trait ReadinessProbe: Send + Sync + fmt::Debug {
    /// `Ok` when ready; otherwise why not.
    async fn check(&self) -> Result<()>;
}

/// Always ready: for a gateway with nothing worth probing.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysReady;

#[async_trait]
impl ReadinessProbe for AlwaysReady {
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Ready when the event store answers: one `next_sequence` read of a key no
/// aggregate uses (`angzarr-health#00000000-0000-0000-0000-000000000000`).
#[derive(Clone, Debug)]
pub struct StoreProbe {
    store: Arc<dyn EventStore>,
}

impl StoreProbe {
    /// Probes `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ReadinessProbe for StoreProbe {
    async fn check(&self) -> Result<()> {
        let key = AggregateKey::new("angzarr-health", uuid::Uuid::nil())?;
        self.store.next_sequence(&key).await.map(drop)
    }
}

/// Always 200 while the process serves.
pub(crate) async fn live() -> Response {
    codec::with_type(br#"{"status":"live"}"#.to_vec(), Format::Json)
}

/// 200 when the probe passes, its error otherwise.
pub(crate) async fn ready(State(state): State<Arc<Shared>>) -> Result<Response, ApiError> {
    state.readiness.check().await?;
    Ok(codec::with_type(
        br#"{"status":"ready"}"#.to_vec(),
        Format::Json,
    ))
}
