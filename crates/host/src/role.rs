//! [`Role`]: what one process of a deployment plays, on every platform.

use std::fmt;
use std::str::FromStr;

use angzarr_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a process answers: the configuration's top-level `role` key
/// (`ANGZARR_ROLE`); a Lambda function without one plays the role its
/// function name ends with ([`Role::from_function_name`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The client-facing HTTP API; commands go to each domain's aggregate
    /// endpoint (another function or service).
    Gateway,
    /// Runs commands for the domains it has handlers for (Cloud Run: over the
    /// gateway's own contract; Lambda: the `Invoke` payload).
    Aggregate,
    /// Delivers books to the projectors (Pub/Sub push, SQS, Kinesis).
    ProjectorTrigger,
    /// Delivers books to the sagas, and sends their commands.
    SagaTrigger,
    /// Everything in one process: the gateway on in-process aggregates, and
    /// both triggers (Cloud Run's per-request and persistent topologies).
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

impl Role {
    /// The role a Lambda function plays by its name: the role whose name the
    /// function's name is or ends with after a `-` (`shop-saga-trigger` →
    /// `saga-trigger`); `all` is never picked this way.
    pub fn from_function_name(function: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .filter(|role| *role != Role::All)
            .find(|role| {
                let name = role.as_str();
                function == name
                    || function
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('-'))
            })
    }

    /// The configured role (the top-level `role` key, `ANGZARR_ROLE`), if
    /// any, from the tree [`angzarr_core::config::Config::figment`] loads.
    pub fn from_figment(figment: &figment::Figment) -> Result<Option<Role>> {
        match figment.find_value(KEY) {
            Err(_) => Ok(None),
            Ok(value) => match value.as_str() {
                Some(name) => name.parse().map(Some),
                None => Err(Error::config(KEY, "must be a role name")),
            },
        }
    }
}

/// The configuration key of the role.
pub const KEY: &str = "role";

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
                    KEY,
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
            err.contains("role") && err.contains("saga-trigger"),
            "{err}"
        );
    }

    #[test]
    fn a_function_plays_the_role_its_name_ends_with() {
        assert_eq!(Role::from_function_name("aggregate"), Some(Role::Aggregate));
        assert_eq!(
            Role::from_function_name("shop-projector-trigger"),
            Some(Role::ProjectorTrigger)
        );
        assert_eq!(
            Role::from_function_name("shop-saga-trigger"),
            Some(Role::SagaTrigger)
        );
        assert_eq!(Role::from_function_name("shopgateway"), None);
        assert_eq!(Role::from_function_name("all"), None);
        assert_eq!(Role::from_function_name("billing"), None);
    }

    #[test]
    fn the_role_key_is_read_from_the_tree() {
        use figment::providers::{Format, Yaml};
        let figment = figment::Figment::new().merge(Yaml::string("role: saga-trigger"));
        assert_eq!(
            Role::from_figment(&figment).unwrap(),
            Some(Role::SagaTrigger)
        );
        assert_eq!(Role::from_figment(&figment::Figment::new()).unwrap(), None);
        let bad = figment::Figment::new().merge(Yaml::string("role: worker"));
        assert!(Role::from_figment(&bad).is_err());
    }
}
