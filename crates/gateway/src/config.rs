//! The gateway's settings: the `gateway` section of the Angzarr
//! configuration (`ANGZARR_GATEWAY__*` in the environment).
//!
//! ```yaml
//! gateway:
//!   max_body_bytes: 1048576          # ANGZARR_GATEWAY__MAX_BODY_BYTES
//!   events_page_limit: 1000          # ANGZARR_GATEWAY__EVENTS_PAGE_LIMIT
//!   domains: [cart, order]           # ANGZARR_GATEWAY__DOMAINS='[cart,order]'
//!   cors_allowed_origins: ["*"]      # ANGZARR_GATEWAY__CORS_ALLOWED_ORIGINS='["https://shop.example"]'
//! ```

use angzarr_core::config::Config;
use angzarr_core::{Error, Result};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default (and maximum) number of events in one poll answer.
pub const DEFAULT_EVENTS_PAGE_LIMIT: u32 = 1000;

/// Settings of the HTTP API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// The most events one `GET /v1/events/...` answers with.
    pub events_page_limit: u32,
    /// The domains served; empty: every domain the router knows.
    pub domains: Vec<String>,
    /// Origins allowed by CORS (`*` for any); empty: no CORS headers.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            events_page_limit: DEFAULT_EVENTS_PAGE_LIMIT,
            domains: Vec::new(),
            cors_allowed_origins: Vec::new(),
        }
    }
}

impl GatewayConfig {
    /// Loads the `gateway` section from defaults < `$ANGZARR_CONFIG` <
    /// `ANGZARR_GATEWAY__*` variables.
    pub fn load() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
    }

    /// Extracts the `gateway` section of `figment` over the defaults.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        angzarr_core::config::section(figment, "gateway")
    }

    /// Checks the values: limits above zero.
    pub fn validate(&self) -> Result<()> {
        if self.max_body_bytes == 0 {
            return Err(Error::config("gateway.max_body_bytes", "must be above 0"));
        }
        if self.events_page_limit == 0 {
            return Err(Error::config(
                "gateway.events_page_limit",
                "must be above 0",
            ));
        }
        Ok(())
    }
}
