//! A function's adapters: the host's one factory ([`angzarr_host::Adapters`],
//! its cargo features forwarded by this crate's: `lambda` = DynamoDB +
//! SNS/SQS, `kinesis`, `redis`, `consul`, `cloudmap`) plus the `lambda`
//! section, built once per process ([`Adapters::shared`]). The AWS clients
//! trust what `lambda.trust_roots` and `lambda.ca_cert_file` say.

use angzarr_aws::SdkConfigs;
use angzarr_core::Result;
use angzarr_core::config::Config;
use tokio::sync::OnceCell;

use crate::config::LambdaConfig;

/// Everything a function talks to, built once and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Adapters {
    /// Stores, bus, firing guard and discovery, from the configuration.
    pub host: angzarr_host::Adapters,
    /// The `lambda` section.
    pub lambda: LambdaConfig,
}

static SHARED: OnceCell<Adapters> = OnceCell::const_new();

impl Adapters {
    /// The process's adapters, built from `figment` (see
    /// [`Config::figment`]) on first use.
    pub async fn shared(figment: &figment::Figment) -> Result<&'static Adapters> {
        SHARED.get_or_try_init(|| Self::from_figment(figment)).await
    }

    /// Builds the adapters from an already loaded configuration tree.
    pub async fn from_figment(figment: &figment::Figment) -> Result<Self> {
        let config = Config::from_figment(figment.clone())?;
        let lambda = LambdaConfig::from_figment(figment)?;
        Self::from_config(config, lambda).await
    }

    /// Builds the adapters `config` names.
    pub async fn from_config(config: Config, lambda: LambdaConfig) -> Result<Self> {
        let sdk = sdk_configs(&lambda)?;
        let host = angzarr_host::Adapters::from_config_with_aws(&config, sdk).await?;
        Ok(Self { host, lambda })
    }

    /// The AWS SDK configurations the adapters share (the Lambda `Invoke`
    /// client uses them too).
    pub fn sdk_configs(&self) -> &SdkConfigs {
        &self.host.aws
    }
}

/// The SDK configurations `lambda` asks for (`trust_roots`, `ca_cert_file`).
pub fn sdk_configs(lambda: &LambdaConfig) -> Result<SdkConfigs> {
    SdkConfigs::new(
        lambda.trust_roots,
        lambda.ca_cert_file.as_deref(),
        "lambda.ca_cert_file",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_defaults_build_the_memory_backends() {
        let adapters = Adapters::from_config(Config::default(), LambdaConfig::default())
            .await
            .unwrap();
        assert!(adapters.host.memory_bus.is_some());
    }

    #[tokio::test]
    async fn a_bad_sqs_section_fails_at_start() {
        let config = Config::from_yaml(
            "messaging: { type: aws_sqs, aws_sqs: { region: us-east-1, topic_arn_prefix: nope } }",
        )
        .unwrap();
        let err = Adapters::from_config(config, LambdaConfig::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("topic_arn_prefix"), "{err}");
    }
}
