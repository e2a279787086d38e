//! What every handler shares.

use std::collections::BTreeSet;
use std::sync::Arc;

use angzarr_runtime::{CommandRouter, EventQueries};

use crate::health::ReadinessProbe;
use crate::registry::TypeRegistry;

/// The gateway's state, behind one `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) router: Arc<dyn CommandRouter>,
    pub(crate) queries: EventQueries,
    pub(crate) registry: TypeRegistry,
    pub(crate) readiness: Arc<dyn ReadinessProbe>,
    pub(crate) max_body_bytes: usize,
    pub(crate) events_page_limit: u32,
    /// Empty: every domain is passed on to the router.
    pub(crate) domains: BTreeSet<String>,
}

impl Shared {
    /// Whether requests for `domain` are accepted.
    pub(crate) fn serves(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.contains(domain)
    }
}
