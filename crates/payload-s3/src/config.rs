//! The settings of the S3 payload store: the `payload.aws_s3` section of the
//! one configuration tree (the `$ANGZARR_CONFIG` file and the
//! `ANGZARR_PAYLOAD__AWS_S3__*` variables), read with
//! [`angzarr_core::config::section`].

use angzarr_core::Result;
use angzarr_core::config::{Config, lenient_string, section};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The `payload` section: the payload stores' settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PayloadConfig {
    /// Settings of the S3 payload store (`payload.aws_s3`).
    pub aws_s3: S3PayloadConfig,
}

impl PayloadConfig {
    /// The `payload` section of `figment` over its defaults; an unknown key
    /// or a value of the wrong kind fails, naming `payload.<key>`.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        section(figment, "payload")
    }

    /// The `payload` section of the loaded configuration tree
    /// ([`Config::figment`]).
    pub fn load() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
    }
}

/// S3 payload-store settings (`payload.aws_s3`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3PayloadConfig {
    /// The bucket (required).
    #[serde(deserialize_with = "lenient_string")]
    pub bucket: String,
    /// Prefix of every object key, e.g. `payloads/`.
    #[serde(deserialize_with = "lenient_string")]
    pub prefix: String,
    /// AWS region; when unset the SDK reads `AWS_REGION`.
    pub region: Option<String>,
    /// Endpoint override (e.g. moto); turns on path-style addressing. When
    /// unset the SDK reads `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
}

/// The prefix of this section's environment variables:
/// `ANGZARR_PAYLOAD__AWS_S3__BUCKET` sets `payload.aws_s3.bucket`.
pub const ENV_PREFIX: &str = "ANGZARR_PAYLOAD__AWS_S3__";

impl S3PayloadConfig {
    /// The `payload.aws_s3` section of `figment`.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        Ok(PayloadConfig::from_figment(figment)?.aws_s3)
    }

    /// The `payload.aws_s3` section of the loaded configuration tree
    /// ([`Config::figment`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_PAYLOAD__AWS_S3__*` variables).
    pub fn from_env() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
    }
}
