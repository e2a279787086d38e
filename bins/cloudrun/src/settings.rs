//! The server's own settings: the role (the top-level `role` key,
//! `ANGZARR_ROLE`) and the `cloudrun` section of the Angzarr configuration
//! (`ANGZARR_CLOUDRUN__*`), Cloud Run's `PORT`, and the command line
//! (`--role`, `--port`), in rising precedence.
//!
//! ```yaml
//! role: all                    # ANGZARR_ROLE: gateway | aggregate | projector-trigger | saga-trigger | all
//! cloudrun:
//!   port: 8080                 # PORT (set by Cloud Run) or ANGZARR_CLOUDRUN__PORT
//!   host: 0.0.0.0              # ANGZARR_CLOUDRUN__HOST
//!   shutdown_timeout_secs: 8   # after SIGTERM: in-flight requests get this long
//!   command_timeout_ms: 30000  # commands sent to another service over HTTP
//! ```

use std::time::Duration;

use angzarr_core::{Error, Result};
use figment::Figment;
use serde::{Deserialize, Serialize};

use angzarr_host::Role;

/// Settings of the HTTP server and of the hosted coordinators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The role this service plays (the top-level `role` key, default `all`).
    #[serde(skip)]
    pub role: Role,
    /// The port to listen on.
    pub port: u16,
    /// The address to listen on.
    pub host: String,
    /// How long in-flight requests may run after SIGTERM (Cloud Run kills
    /// the instance 10 s after it).
    pub shutdown_timeout_secs: u64,
    /// Deadline of a command sent to another service, in milliseconds.
    pub command_timeout_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            role: Role::All,
            port: 8080,
            host: "0.0.0.0".to_owned(),
            shutdown_timeout_secs: 8,
            command_timeout_ms: 30_000,
        }
    }
}

impl ServerSettings {
    /// The `role` key and `cloudrun` section of `figment` (see
    /// [`angzarr_core::config::Config::figment`]), then `port` (Cloud Run's
    /// `PORT`, when given), then the arguments.
    pub fn load<I, S>(figment: &Figment, port: Option<&str>, args: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut settings: Self = angzarr_core::config::section(figment, "cloudrun")?;
        settings.role = Role::from_figment(figment)?.unwrap_or(Role::All);
        if let Some(port) = port.filter(|p| !p.is_empty()) {
            settings.port = parse_port("PORT", port)?;
        }
        let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut index = 0;
        while index < args.len() {
            let (flag, inline) = match args[index].split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (args[index].clone(), None),
            };
            let mut value = || -> Result<String> {
                if let Some(value) = inline.clone() {
                    return Ok(value);
                }
                index += 1;
                args.get(index)
                    .cloned()
                    .ok_or_else(|| Error::config(flag.clone(), "needs a value"))
            };
            match flag.as_str() {
                "--role" => settings.role = value()?.parse()?,
                "--port" => settings.port = parse_port("--port", &value()?)?,
                other => {
                    return Err(Error::config(
                        other,
                        "unknown argument; allowed: --role <role>, --port <port>",
                    ));
                }
            }
            index += 1;
        }
        Ok(settings)
    }

    /// [`ServerSettings::load`] from the process: `$ANGZARR_CONFIG`,
    /// `ANGZARR_*` variables, `PORT` and the command line.
    pub fn from_process() -> Result<Self> {
        let figment = angzarr_core::config::Config::figment()?;
        let port = std::env::var("PORT").ok();
        Self::load(&figment, port.as_deref(), std::env::args().skip(1))
    }

    /// The shutdown grace period.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The deadline of a command sent over HTTP.
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms.max(1))
    }
}

fn parse_port(key: &str, value: &str) -> Result<u16> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, format!("`{value}` is not a port number")))
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Yaml};

    use super::*;

    #[test]
    fn section_then_port_then_arguments() {
        let figment = Figment::new().merge(Yaml::string(
            "{ role: gateway, cloudrun: { port: 9000, command_timeout_ms: 5 } }",
        ));
        let none: [&str; 0] = [];
        let settings = ServerSettings::load(&figment, None, none).unwrap();
        assert_eq!(settings.role, Role::Gateway);
        assert_eq!(settings.port, 9000);
        assert_eq!(settings.command_timeout_ms, 5);
        let settings = ServerSettings::load(&figment, Some("8081"), none).unwrap();
        assert_eq!(settings.port, 8081);
        let settings = ServerSettings::load(
            &figment,
            Some("8081"),
            ["--role", "saga-trigger", "--port=1"],
        )
        .unwrap();
        assert_eq!((settings.role, settings.port), (Role::SagaTrigger, 1));
    }

    #[test]
    fn wrong_values_name_their_key() {
        let none: [&str; 0] = [];
        let bad = Figment::new().merge(Yaml::string("role: worker"));
        let err = ServerSettings::load(&bad, None, none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("role") && err.contains("worker"), "{err}");
        let err = ServerSettings::load(&Figment::new(), Some("http"), none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("PORT"), "{err}");
        let err = ServerSettings::load(&Figment::new(), None, ["--verbose"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--verbose"), "{err}");
        let typo = Figment::new().merge(Yaml::string("cloudrun: { prot: 1 }"));
        let err = ServerSettings::load(&typo, None, none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
    }
}
