//! The `lambda` section of the Angzarr configuration (`ANGZARR_LAMBDA__*` in
//! the environment): how the functions find each other.
//!
//! ```yaml
//! lambda:
//!   aggregate_function: angzarr-aggregate      # ANGZARR_LAMBDA__AGGREGATE_FUNCTION
//!   aggregate_functions: { cart: shop-cart }   # per-domain overrides
//!   invoke_endpoint: http://127.0.0.1:9000     # ANGZARR_LAMBDA__INVOKE_ENDPOINT (cargo lambda watch)
//!   region: us-east-1                          # ANGZARR_LAMBDA__REGION (else AWS_REGION)
//!   in_process: false                          # ANGZARR_LAMBDA__IN_PROCESS: gateway/saga run aggregates themselves
//!   fifo: false                                # ANGZARR_LAMBDA__FIFO: triggers stop at the first failure
//!   trust_roots: amazon                        # ANGZARR_LAMBDA__TRUST_ROOTS: amazon | system (the SDK's HTTPS roots)
//!   ca_cert_file: /var/task/proxy-ca.pem       # ANGZARR_LAMBDA__CA_CERT_FILE: more roots, PEM
//! ```

use std::collections::BTreeMap;

use angzarr_aws::TrustRoots;
use angzarr_core::config::Config;
use angzarr_core::{Error, Result};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Settings of the Lambda functions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaConfig {
    /// The function that runs commands of every domain not listed in
    /// [`Self::aggregate_functions`] (name, ARN or alias ARN).
    pub aggregate_function: Option<String>,
    /// The aggregate function per domain.
    pub aggregate_functions: BTreeMap<String, String>,
    /// Endpoint override of the Lambda API (`Invoke`), e.g. `cargo lambda
    /// watch`'s invoke address.
    pub invoke_endpoint: Option<String>,
    /// Region of the Lambda API; falls back to `AWS_REGION`.
    pub region: Option<String>,
    /// Run the aggregates in this process instead of invoking the aggregate
    /// function (the gateway, and the saga trigger for saga commands).
    pub in_process: bool,
    /// Treat every trigger batch as ordered (FIFO queue, Kinesis): stop at
    /// the first failed record. FIFO queues are also detected by their ARN.
    pub fifo: bool,
    /// The roots the AWS SDK's HTTPS client trusts: `amazon` (default) the
    /// Amazon Trust Services roots that sign every AWS endpoint, compiled in
    /// — no bundle read and parsed at a cold start; `system` the system's
    /// store, as the SDK does by default (needed for an endpoint override
    /// over HTTPS signed by another CA, unless that CA is in
    /// [`Self::ca_cert_file`]).
    pub trust_roots: TrustRoots,
    /// A PEM file of more roots for the AWS SDK's HTTPS client (a private
    /// CA, a TLS-inspecting proxy).
    pub ca_cert_file: Option<String>,
    /// How long one `Invoke` of an aggregate function may take, in seconds:
    /// at least that function's timeout, so that a slow command's outcome
    /// is waited for rather than cut off (default 900, Lambda's longest).
    /// An `Invoke` is never retried by the SDK: its outcome is unknown once
    /// it was sent.
    pub invoke_timeout_secs: u64,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            aggregate_function: None,
            aggregate_functions: BTreeMap::new(),
            invoke_endpoint: None,
            region: None,
            in_process: false,
            fifo: false,
            trust_roots: TrustRoots::Amazon,
            ca_cert_file: None,
            invoke_timeout_secs: 900,
        }
    }
}

impl LambdaConfig {
    /// Loads the `lambda` section from defaults < `$ANGZARR_CONFIG` <
    /// `ANGZARR_LAMBDA__*` variables.
    pub fn load() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
    }

    /// Extracts the `lambda` section of `figment` over the defaults.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        let config: Self = angzarr_core::config::section(figment, "lambda")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if let Some(endpoint) = &self.invoke_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(Error::config(
                "lambda.invoke_endpoint",
                format!("`{endpoint}` is not an http(s) URL"),
            ));
        }
        let names = self
            .aggregate_function
            .iter()
            .map(|n| ("lambda.aggregate_function".to_owned(), n))
            .chain(
                self.aggregate_functions
                    .iter()
                    .map(|(d, n)| (format!("lambda.aggregate_functions.{d}"), n)),
            );
        for (key, name) in names {
            if name.trim().is_empty() {
                return Err(Error::config(key, "must name a function"));
            }
        }
        if self.invoke_timeout_secs == 0 {
            return Err(Error::config(
                "lambda.invoke_timeout_secs",
                "must be above 0: at least the aggregate function's timeout",
            ));
        }
        Ok(())
    }

    /// The function that runs `domain`'s commands, if one is configured.
    pub fn function_for(&self, domain: &str) -> Option<&str> {
        self.aggregate_functions
            .get(domain)
            .or(self.aggregate_function.as_ref())
            .map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::providers::{Format, Yaml};

    #[test]
    fn the_section_loads_with_per_domain_functions() {
        let figment = Figment::new().merge(Yaml::string(
            "lambda: { aggregate_function: agg, aggregate_functions: { cart: cart-fn }, in_process: true }",
        ));
        let config = LambdaConfig::from_figment(&figment).unwrap();
        assert_eq!(config.function_for("cart"), Some("cart-fn"));
        assert_eq!(config.function_for("order"), Some("agg"));
        assert!(config.in_process);
    }

    #[test]
    fn bad_values_name_their_key() {
        let figment = Figment::new().merge(Yaml::string("lambda: { invoke_endpoint: localhost }"));
        let err = LambdaConfig::from_figment(&figment)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lambda.invoke_endpoint"), "{err}");
        let figment = Figment::new().merge(Yaml::string("lambda: { aggregate_functon: x }"));
        let err = LambdaConfig::from_figment(&figment)
            .unwrap_err()
            .to_string();
        assert!(err.contains("aggregate_functon"), "{err}");
    }

    #[test]
    fn environment_variables_fill_the_section() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ANGZARR_LAMBDA__AGGREGATE_FUNCTION", "aggregate");
            jail.set_env("ANGZARR_LAMBDA__INVOKE_ENDPOINT", "http://127.0.0.1:9000");
            let config = LambdaConfig::load().map_err(|e| e.to_string())?;
            assert_eq!(config.function_for("cart"), Some("aggregate"));
            assert_eq!(
                config.invoke_endpoint.as_deref(),
                Some("http://127.0.0.1:9000")
            );
            assert_eq!(config.trust_roots, TrustRoots::Amazon);
            jail.set_env("ANGZARR_LAMBDA__TRUST_ROOTS", "system");
            let config = LambdaConfig::load().map_err(|e| e.to_string())?;
            assert_eq!(config.trust_roots, TrustRoots::System);
            Ok(())
        });
    }

    #[test]
    fn a_zero_invoke_timeout_is_refused() {
        let figment = Figment::new().merge(Yaml::string("lambda: { invoke_timeout_secs: 0 }"));
        let err = LambdaConfig::from_figment(&figment)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lambda.invoke_timeout_secs"), "{err}");
    }

    #[test]
    fn trust_settings_are_checked_when_the_clients_are_made() {
        let figment = Figment::new().merge(Yaml::string("lambda: { trust_roots: everyone }"));
        let err = LambdaConfig::from_figment(&figment)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lambda.trust_roots"), "{err}");

        let missing = LambdaConfig {
            ca_cert_file: Some("/nonexistent/ca.pem".into()),
            ..LambdaConfig::default()
        };
        let err = crate::adapters::sdk_configs(&missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lambda.ca_cert_file"), "{err}");
        assert!(crate::adapters::sdk_configs(&LambdaConfig::default()).is_ok());
    }
}
