//! The roles one Cloud Run service can play.

use std::fmt;
use std::str::FromStr;

use angzarr_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a service answers; chosen per deployment (`ANGZARR_CLOUDRUN__ROLE`,
/// `--role`, or the `cloudrun.role` config key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The client-facing HTTP API; commands go to each domain's aggregate
    /// service, found through service discovery.
    Gateway,
    /// Runs commands for the domains it has handlers for, over the gateway's
    /// own contract (`POST /v1/commands`, protobuf or JSON).
    Aggregate,
    /// Pub/Sub push endpoints of the projectors (`POST /push/projectors/{name}`).
    ProjectorTrigger,
    /// Pub/Sub push endpoints of the sagas (`POST /push/sagas/{name}`).
    SagaTrigger,
    /// Everything in one service: the gateway on in-process aggregates, and
    /// both kinds of push endpoints (the per-request and persistent topologies).
    #[default]
    All,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 5] = [
        Role::Gateway,
        Role::Aggregate,
        Role::ProjectorTrigger,
        Role::SagaTrigger,
        Role::All,
    ];

    /// The role's name as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Aggregate => "aggregate",
            Role::ProjectorTrigger => "projector-trigger",
            Role::SagaTrigger => "saga-trigger",
            Role::All => "all",
        }
    }

    /// Whether the service runs commands in process.
    pub fn runs_aggregates(self) -> bool {
        matches!(self, Role::Aggregate | Role::All)
    }

    /// Whether the service serves the projectors' push endpoints.
    pub fn runs_projectors(self) -> bool {
        matches!(self, Role::ProjectorTrigger | Role::All)
    }

    /// Whether the service serves the sagas' push endpoints.
    pub fn runs_sagas(self) -> bool {
        matches!(self, Role::SagaTrigger | Role::All)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value.trim())
            .ok_or_else(|| {
                Error::config(
                    "cloudrun.role",
                    format!(
                        "unknown role `{value}`; allowed: gateway, aggregate, projector-trigger, saga-trigger, all"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_by_name_and_unknown_ones_name_the_key() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let err = "worker".parse::<Role>().unwrap_err().to_string();
        assert!(
            err.contains("cloudrun.role") && err.contains("saga-trigger"),
            "{err}"
        );
    }
}
