//! The configuration model, loaded with figment in three layers:
//! built-in defaults < the YAML file named by `ANGZARR_CONFIG` < environment
//! variables prefixed `ANGZARR_`, with `__` between nesting levels
//! (`ANGZARR_STORAGE__TYPE=redis`, `ANGZARR_STORAGE__REDIS__URL=...`).
//!
//! ```yaml
//! storage:   { type: aws_dynamodb, aws_dynamodb: { table_name: angzarr-events, region: us-east-1 } }
//! messaging: { type: aws_sqs, aws_sqs: { region: us-east-1, topic_arn_prefix: "arn:aws:sns:us-east-1:123:angzarr-events-" } }
//! discovery: { type: env_urls }
//! ```
//!
//! Between the file and the `ANGZARR_*` variables sits one more layer: the
//! variables Google's and Consul's own tools read ([`WELL_KNOWN_VARS`]:
//! `PUBSUB_EMULATOR_HOST`, `BIGTABLE_EMULATOR_HOST`, `GOOGLE_CLOUD_PROJECT`,
//! `GCLOUD_PROJECT`, `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`), mapped onto
//! their keys, so an adapter built from the tree honours them exactly as one
//! built from the environment.
//!
//! Loading checks shapes only: an unknown `type`, an unknown key inside a
//! section, or a value of the wrong kind fails with the key's name and what is
//! allowed. Each adapter's builder validates the settings it uses.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Yaml};
use figment::{Figment, Provider};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The variable naming the YAML configuration file.
pub const CONFIG_FILE_VAR: &str = "ANGZARR_CONFIG";
/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "ANGZARR_";

/// The whole configuration of one process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where events and snapshots are kept.
    pub storage: StorageConfig,
    /// Where events are published.
    pub messaging: MessagingConfig,
    /// How other services are found.
    pub discovery: DiscoveryConfig,
    /// Idempotency of triggers.
    pub firing_guard: FiringGuardConfig,
    /// The coordinators' settings, the same on every host.
    pub runtime: RuntimeConfig,
}

impl Config {
    /// Loads defaults < `$ANGZARR_CONFIG` < `ANGZARR_*` environment variables.
    pub fn load() -> Result<Self> {
        Self::from_figment(Self::figment()?)
    }

    /// The layered figment [`Config::load`] extracts from, for callers that
    /// add layers of their own. The defaults are not in the tree: every
    /// section's type supplies them when it is extracted (`#[serde(default)]`
    /// here, [`section`] for the others).
    pub fn figment() -> Result<Figment> {
        let mut figment = Figment::new();
        if let Ok(path) = std::env::var(CONFIG_FILE_VAR) {
            figment = figment.merge(Yaml::file_exact(check_file(&path)?));
        }
        for (key, value) in well_known_values(|name| std::env::var(name).ok()) {
            figment = figment.merge(Serialized::default(key, value));
        }
        Ok(figment.merge(env_provider()))
    }

    /// Loads from a YAML document layered over the defaults (no environment).
    pub fn from_yaml(yaml: &str) -> Result<Self> {
        Self::from_figment(Figment::from(Yaml::string(yaml)))
    }

    /// Extracts a configuration, turning figment's errors into [`Error::Config`]
    /// naming the key, refusing a top-level key that is no section of
    /// [`SECTIONS`] (a misspelt `storage` must not fall back to memory), and
    /// checking the values that have bounds.
    pub fn from_figment(figment: Figment) -> Result<Self> {
        check_top_level_keys(&figment)?;
        let config: Self = figment.extract().map_err(config_error)?;
        config.runtime.merge_retry.validate()?;
        config.firing_guard.validate(config.messaging.kind)?;
        Ok(config)
    }
}

/// Every top-level section of the one configuration tree: the core model's,
/// and those the hosts and adapters read with [`section`] (`business` is
/// `angzarr-host`'s).
pub const SECTIONS: &[&str] = &[
    "storage",
    "messaging",
    "discovery",
    "firing_guard",
    "runtime",
    "gateway",
    "lambda",
    "cloudrun",
    "payload",
    "push_auth",
    "business",
];

/// Top-level keys that are not sections but single `ANGZARR_*` variables:
/// the file's own name, the role a process plays (`ANGZARR_ROLE`, read by
/// `angzarr-host`), and the discovery variables
/// (`ANGZARR_AGGREGATE_<DOMAIN>`, `ANGZARR_PROJECTOR_<N>`,
/// `ANGZARR_SAGA_<SOURCE>_<N>`, read by `angzarr-discovery-env`).
const SINGLE_VARIABLES: &[&str] = &["config", "role"];
const SINGLE_VARIABLE_PREFIXES: &[&str] = &["aggregate_", "projector_", "saga_"];

fn check_top_level_keys(figment: &Figment) -> Result<()> {
    let data = figment.data().map_err(config_error)?;
    for dict in data.values() {
        for key in dict.keys() {
            let known = SECTIONS.contains(&key.as_str())
                || SINGLE_VARIABLES.contains(&key.as_str())
                || SINGLE_VARIABLE_PREFIXES
                    .iter()
                    .any(|prefix| key.starts_with(prefix));
            if !known {
                let source = figment
                    .find_metadata(key)
                    .map(|m| format!(" (from {})", m.name))
                    .unwrap_or_default();
                return Err(Error::config(
                    key.clone(),
                    format!(
                        "unknown section{source}; the sections are {}",
                        SECTIONS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Extracts the top-level section `name` of `figment` over `T`'s defaults:
/// the one loader of every host and adapter section (`gateway`, `lambda`,
/// `cloudrun`, ...). An error names the key as `name.path`.
pub fn section<T>(figment: &Figment, name: &str) -> Result<T>
where
    T: Default + Serialize + serde::de::DeserializeOwned,
{
    Figment::from(Serialized::defaults(T::default()))
        .merge(figment.focus(name))
        .extract()
        .map_err(|e| {
            let key = if e.path.is_empty() {
                name.to_owned()
            } else {
                format!("{name}.{}", e.path.join("."))
            };
            Error::config(key, e.kind.to_string())
        })
}

/// The variables Google's and Consul's tools and client libraries read, and
/// the key each sets, in rising precedence (`GOOGLE_CLOUD_PROJECT` wins over
/// `GCLOUD_PROJECT`). They rank above the file and below `ANGZARR_*`.
pub const WELL_KNOWN_VARS: &[(&str, &str)] = &[
    ("GCLOUD_PROJECT", "messaging.gcp_pubsub.project"),
    ("GCLOUD_PROJECT", "storage.gcp_bigtable.project"),
    ("GOOGLE_CLOUD_PROJECT", "messaging.gcp_pubsub.project"),
    ("GOOGLE_CLOUD_PROJECT", "storage.gcp_bigtable.project"),
    ("PUBSUB_EMULATOR_HOST", "messaging.gcp_pubsub.endpoint"),
    ("BIGTABLE_EMULATOR_HOST", "storage.gcp_bigtable.endpoint"),
    ("CONSUL_HTTP_ADDR", "discovery.consul.address"),
    ("CONSUL_HTTP_TOKEN", "discovery.consul.token"),
];

/// The keys [`WELL_KNOWN_VARS`] set, with their values, in precedence order;
/// empty variables are skipped.
fn well_known_values(var: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    WELL_KNOWN_VARS
        .iter()
        .filter_map(|(name, key)| {
            let value = var(name).filter(|v| !v.trim().is_empty())?;
            Some((*key, value))
        })
        .collect()
}

/// `ANGZARR_*` variables, with `__` separating nesting levels. Single-underscore
/// discovery variables (`ANGZARR_AGGREGATE_CART`) are top-level keys the model
/// ignores.
fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX).split("__")
}

fn check_file(path: &str) -> Result<&Path> {
    let file = Path::new(path);
    if !file.is_file() {
        return Err(Error::config(
            CONFIG_FILE_VAR,
            format!("configuration file `{path}` does not exist"),
        ));
    }
    Ok(file)
}

fn config_error(error: figment::Error) -> Error {
    let errors: Vec<(String, String)> = error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "<root>".to_owned()
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            (key, format!("{}{source}", e.kind))
        })
        .collect();
    match errors.as_slice() {
        [(key, message)] => Error::config(key.clone(), message.clone()),
        _ => Error::config(
            errors
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            errors
                .iter()
                .map(|(k, m)| format!("{k}: {m}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// Reads a string that may have been written as a number: environment values
/// that look like numbers (a Google project number, say) arrive as numbers.
/// For sections defined outside this module:
/// `#[serde(deserialize_with = "angzarr_core::config::lenient_string")]`.
pub fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Lenient::deserialize(d)? {
        Lenient::Text(s) => s,
        Lenient::Unsigned(n) => n.to_string(),
        Lenient::Signed(n) => n.to_string(),
    })
}

/// A secret string: shown as `<redacted>` in `Debug` output and logs.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; use it only where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The event and snapshot store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Which backend (`storage.type`).
    #[serde(rename = "type")]
    pub kind: StorageType,
    /// Settings of `aws_dynamodb`.
    pub aws_dynamodb: DynamoDbConfig,
    /// Settings of `gcp_bigtable`.
    pub gcp_bigtable: BigtableConfig,
    /// Settings of `redis`.
    pub redis: RedisConfig,
}

/// Storage backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageType {
    /// In process memory (nothing survives the process).
    #[default]
    Memory,
    /// Amazon DynamoDB.
    AwsDynamodb,
    /// Google Cloud Bigtable.
    GcpBigtable,
    /// Redis (Memorystore, ElastiCache).
    Redis,
}

/// DynamoDB tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamoDbConfig {
    /// Events table (partition `{domain}#{root}`, sort key sequence).
    pub table_name: String,
    /// Snapshots table (partition `{domain}#{root}`).
    pub snapshot_table_name: String,
    /// Firing-guard table.
    pub guard_table_name: String,
    /// Rate-limit table.
    pub rate_limit_table_name: String,
    /// AWS region; falls back to the SDK's `AWS_REGION`.
    pub region: Option<String>,
    /// Endpoint override (e.g. moto).
    pub endpoint: Option<String>,
}

impl Default for DynamoDbConfig {
    fn default() -> Self {
        Self {
            table_name: "angzarr-events".into(),
            snapshot_table_name: "angzarr-snapshots".into(),
            guard_table_name: "angzarr-firing-guard".into(),
            rate_limit_table_name: "angzarr-rate-limits".into(),
            region: None,
            endpoint: None,
        }
    }
}

/// Bigtable tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BigtableConfig {
    /// Google Cloud project id (or number).
    #[serde(deserialize_with = "lenient_string")]
    pub project: String,
    /// Bigtable instance id.
    #[serde(deserialize_with = "lenient_string")]
    pub instance: String,
    /// Events table (family `event`).
    pub events_table: String,
    /// Snapshots table (family `snapshot`).
    pub snapshots_table: String,
    /// Firing-guard table.
    pub guard_table: String,
    /// Rate-limit table.
    pub rate_limit_table: String,
    /// Endpoint override, `host:port` (e.g. the emulator; `BIGTABLE_EMULATOR_HOST` also works).
    pub endpoint: Option<String>,
    /// App profile sent with every data request; empty for the instance's default.
    pub app_profile: String,
    /// Timeout of one request, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for BigtableConfig {
    fn default() -> Self {
        Self {
            project: String::new(),
            instance: String::new(),
            events_table: "angzarr-events".into(),
            snapshots_table: "angzarr-snapshots".into(),
            guard_table: "angzarr-firing-guard".into(),
            rate_limit_table: "angzarr-rate-limits".into(),
            endpoint: None,
            app_profile: String::new(),
            timeout_ms: 10_000,
        }
    }
}

/// A Redis server or cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` (TLS) URL, possibly with credentials.
    pub url: Secret,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Connection pool size.
    pub pool_size: usize,
    /// Timeout of one command, in milliseconds.
    pub timeout_ms: u64,
    /// PEM file of the CA that signed the server's certificate (`rediss://`
    /// with a private CA, e.g. Memorystore's server CA); the system roots
    /// otherwise.
    pub ca_cert_file: Option<String>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://127.0.0.1:6379"),
            key_prefix: "angzarr".into(),
            pool_size: 16,
            timeout_ms: 2_000,
            ca_cert_file: None,
        }
    }
}

/// The event bus.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagingConfig {
    /// Which backend (`messaging.type`).
    #[serde(rename = "type")]
    pub kind: MessagingType,
    /// Settings of `aws_sqs` (SNS topics fanned out to SQS queues).
    pub aws_sqs: SqsConfig,
    /// Settings of `aws_kinesis`.
    pub aws_kinesis: KinesisConfig,
    /// Settings of `gcp_pubsub`.
    pub gcp_pubsub: PubSubConfig,
}

/// Bus backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingType {
    /// In process memory.
    #[default]
    Memory,
    /// Google Cloud Pub/Sub.
    GcpPubsub,
    /// Amazon SNS topics with SQS queues.
    AwsSqs,
    /// Amazon Kinesis Data Streams.
    AwsKinesis,
}

/// SNS/SQS settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqsConfig {
    /// AWS region; falls back to the SDK's `AWS_REGION`.
    pub region: Option<String>,
    /// Topic ARN without the domain: a domain's topic is `{prefix}{domain}`.
    pub topic_arn_prefix: String,
    /// FIFO topics and queues (ordered per aggregate).
    pub fifo: bool,
    /// The queue a pull consumer reads.
    pub queue_url: Option<String>,
    /// Endpoint override (e.g. moto).
    pub endpoint: Option<String>,
}

/// Kinesis settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KinesisConfig {
    /// AWS region; falls back to the SDK's `AWS_REGION`.
    pub region: Option<String>,
    /// Stream name prefix: a domain's stream is `{prefix}{domain}`.
    pub stream_prefix: String,
    /// Endpoint override (e.g. moto).
    pub endpoint: Option<String>,
}

impl Default for KinesisConfig {
    fn default() -> Self {
        Self {
            region: None,
            stream_prefix: "angzarr-events-".into(),
            endpoint: None,
        }
    }
}

/// Pub/Sub settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PubSubConfig {
    /// Google Cloud project id (or number).
    #[serde(deserialize_with = "lenient_string")]
    pub project: String,
    /// Topic name prefix: a domain's topic is `{prefix}{domain}`.
    pub topic_prefix: String,
    /// The subscription a pull consumer reads.
    pub subscription: Option<String>,
    /// Endpoint override, `host:port` (`PUBSUB_EMULATOR_HOST` also works).
    pub endpoint: Option<String>,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        Self {
            project: String::new(),
            topic_prefix: "angzarr-events-".into(),
            subscription: None,
            endpoint: None,
        }
    }
}

/// Service discovery.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Which mechanism (`discovery.type`).
    #[serde(rename = "type")]
    pub kind: DiscoveryType,
    /// URLs written in configuration, merged with `ANGZARR_AGGREGATE_<DOMAIN>` etc.
    pub env_urls: EnvUrlsConfig,
    /// Settings of `aws_cloudmap`.
    pub aws_cloudmap: CloudMapConfig,
    /// Settings of `consul`.
    pub consul: ConsulConfig,
    /// Settings of `gcp_mesh`.
    pub gcp_mesh: GcpMeshConfig,
}

/// Discovery mechanisms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryType {
    /// URLs from environment variables and configuration.
    #[default]
    EnvUrls,
    /// AWS Cloud Map.
    AwsCloudmap,
    /// HashiCorp Consul.
    Consul,
    /// Cloud Run service mesh host names.
    GcpMesh,
}

/// URLs given in configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvUrlsConfig {
    /// Aggregate URL per domain.
    pub aggregates: BTreeMap<String, String>,
    /// Projector URL per projector name.
    pub projectors: BTreeMap<String, String>,
    /// Saga URLs per source domain, by saga name.
    pub sagas: BTreeMap<String, BTreeMap<String, String>>,
}

/// Cloud Map settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudMapConfig {
    /// The namespace name.
    pub namespace: String,
    /// Service name template; `{domain}` is replaced.
    pub service_template: String,
    /// The instance attribute holding the URL.
    pub url_attribute: String,
    /// How long answers are cached, in seconds.
    pub cache_ttl_secs: u64,
    /// AWS region; falls back to the SDK's `AWS_REGION`.
    pub region: Option<String>,
    /// Endpoint override (e.g. moto).
    pub endpoint: Option<String>,
}

impl Default for CloudMapConfig {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            service_template: "{domain}-aggregate".into(),
            url_attribute: "url".into(),
            cache_ttl_secs: 10,
            region: None,
            endpoint: None,
        }
    }
}

/// Consul settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsulConfig {
    /// The agent's HTTP address (`CONSUL_HTTP_ADDR` also works).
    pub address: String,
    /// ACL token, if the agent requires one (`CONSUL_HTTP_TOKEN` also works).
    pub token: Option<Secret>,
    /// Service name template; `{domain}` is replaced.
    pub service_template: String,
    /// How long answers are cached, in seconds.
    pub cache_ttl_secs: u64,
    /// Timeout of one request to the agent, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for ConsulConfig {
    fn default() -> Self {
        Self {
            address: "http://127.0.0.1:8500".into(),
            token: None,
            service_template: "{domain}-aggregate".into(),
            cache_ttl_secs: 5,
            timeout_ms: 5_000,
        }
    }
}

/// Cloud Run service mesh settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcpMeshConfig {
    /// The mesh name.
    pub mesh: String,
    /// URL template; `{domain}` and `{mesh}` are replaced.
    pub url_template: String,
}

impl Default for GcpMeshConfig {
    fn default() -> Self {
        Self {
            mesh: String::new(),
            url_template: "https://{domain}-aggregate.{mesh}.mesh.internal".into(),
        }
    }
}

/// Firing-guard timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FiringGuardConfig {
    /// How long one delivery may hold its key before another may take over, in seconds.
    pub lease_secs: u64,
    /// How long a completed key is remembered, in seconds.
    pub retention_secs: u64,
}

impl Default for FiringGuardConfig {
    fn default() -> Self {
        Self {
            lease_secs: 60,
            // SQS keeps a message for at most 14 days: a completed key is
            // remembered as long as any bus here may deliver it again.
            retention_secs: 14 * 24 * 3600,
        }
    }
}

impl MessagingType {
    /// How long after a publish this bus may still deliver the message (a
    /// redelivery or a replay), with its longest retention: SQS 14 days,
    /// a Pub/Sub subscription and a Kinesis stream as they are made here 7
    /// days; the memory bus redelivers only within the process.
    pub fn redelivery_horizon_secs(self) -> u64 {
        const DAY: u64 = 24 * 3600;
        match self {
            MessagingType::Memory => 0,
            MessagingType::GcpPubsub | MessagingType::AwsKinesis => 7 * DAY,
            MessagingType::AwsSqs => 14 * DAY,
        }
    }
}

impl FiringGuardConfig {
    /// Checks the bounds: a lease above 0 (a zero lease lets a second
    /// delivery take over a running one at once), and a retention no
    /// shorter than `bus`'s redelivery horizon (a key forgotten earlier
    /// lets a late redelivery apply a book twice).
    pub fn validate(&self, bus: MessagingType) -> Result<()> {
        if self.lease_secs == 0 {
            return Err(Error::config(
                "firing_guard.lease_secs",
                "must be above 0: a delivery holds its key this long",
            ));
        }
        let horizon = bus.redelivery_horizon_secs();
        if self.retention_secs == 0 || self.retention_secs < horizon {
            return Err(Error::config(
                "firing_guard.retention_secs",
                format!(
                    "{} s is shorter than the {horizon} s for which messaging type {bus:?} may \
                     deliver a book again (and must be above 0)",
                    self.retention_secs
                ),
            ));
        }
        Ok(())
    }
}

/// The aggregate coordinators' settings (`runtime.*`), honoured by every
/// host (Lambda, Cloud Run, the CLI).
///
/// ```yaml
/// runtime:
///   snapshot_every: 100      # a snapshot every N events (0: only when a handler returns one)
///   cache_states: 10000      # folded states kept per process (0: none)
///   merge_retry:             # commutative commands retried on a sequence conflict
///     max_attempts: 10
///     base_delay_ms: 2
///     max_delay_ms: 200
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// A snapshot every N events of an aggregate's history (0: only when a
    /// handler returns one).
    pub snapshot_every: u32,
    /// How many aggregates' folded states a process keeps between commands
    /// (0: none).
    pub cache_states: usize,
    /// How conflicting commutative commands are retried.
    pub merge_retry: MergeRetryConfig,
    /// Whether the aggregates written under each correlation id are
    /// recorded, for queries by correlation id (one more read and write per
    /// append that has a correlation id).
    pub correlation_index: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            snapshot_every: 100,
            cache_states: 10_000,
            merge_retry: MergeRetryConfig::default(),
            correlation_index: true,
        }
    }
}

/// Bounds of the retries of a commutative command that met a sequence
/// conflict (`runtime.merge_retry.*`): jittered exponential backoff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MergeRetryConfig {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The pause after the first failed attempt, in milliseconds, before jitter.
    pub base_delay_ms: u64,
    /// The longest pause, in milliseconds, before jitter.
    pub max_delay_ms: u64,
}

impl Default for MergeRetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay_ms: 2,
            max_delay_ms: 200,
        }
    }
}

impl MergeRetryConfig {
    /// Checks the bounds: at least one attempt, and a base delay no longer
    /// than the longest.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::config(
                "runtime.merge_retry.max_attempts",
                "must be at least 1 (the first attempt counts)",
            ));
        }
        if self.base_delay_ms > self.max_delay_ms {
            return Err(Error::config(
                "runtime.merge_retry.base_delay_ms",
                format!(
                    "{} is longer than max_delay_ms ({})",
                    self.base_delay_ms, self.max_delay_ms
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_backends() {
        let config = Config::from_yaml("").unwrap();
        assert_eq!(config.storage.kind, StorageType::Memory);
        assert_eq!(config.messaging.kind, MessagingType::Memory);
        assert_eq!(config.discovery.kind, DiscoveryType::EnvUrls);
        assert_eq!(config.storage.aws_dynamodb.table_name, "angzarr-events");
    }

    #[test]
    fn yaml_in_the_design_shape_loads() {
        let config = Config::from_yaml(
            r#"
storage:   { type: aws_dynamodb, aws_dynamodb: { table_name: shop-events, region: us-east-1 } }
messaging: { type: aws_sqs, aws_sqs: { region: us-east-1, topic_arn_prefix: "arn:aws:sns:us-east-1:1:angzarr-events-" } }
discovery: { type: env_urls, env_urls: { aggregates: { cart: "http://cart" } } }
"#,
        )
        .unwrap();
        assert_eq!(config.storage.kind, StorageType::AwsDynamodb);
        assert_eq!(config.storage.aws_dynamodb.table_name, "shop-events");
        assert_eq!(
            config.storage.aws_dynamodb.region.as_deref(),
            Some("us-east-1")
        );
        // Unset keys of a section keep their defaults.
        assert_eq!(
            config.storage.aws_dynamodb.snapshot_table_name,
            "angzarr-snapshots"
        );
        assert_eq!(config.messaging.kind, MessagingType::AwsSqs);
        assert_eq!(config.discovery.env_urls.aggregates["cart"], "http://cart");
    }

    #[test]
    fn an_unknown_type_names_the_key_and_the_allowed_values() {
        for (yaml, key, allowed) in [
            (
                "storage: { type: cassandra }",
                "storage.type",
                &["memory", "aws_dynamodb", "gcp_bigtable", "redis"][..],
            ),
            (
                "messaging: { type: kafka }",
                "messaging.type",
                &["memory", "gcp_pubsub", "aws_sqs", "aws_kinesis"][..],
            ),
            (
                "discovery: { type: dns }",
                "discovery.type",
                &["env_urls", "aws_cloudmap", "consul", "gcp_mesh"][..],
            ),
        ] {
            let err = Config::from_yaml(yaml).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Config { .. }), "{text}");
            assert!(text.contains(key), "{text} should name {key}");
            for value in allowed {
                assert!(text.contains(value), "{text} should list {value}");
            }
        }
    }

    #[test]
    fn the_runtime_section_loads_and_checks_its_bounds() {
        let config = Config::from_yaml("").unwrap();
        assert_eq!(config.runtime, RuntimeConfig::default());
        let config = Config::from_yaml(
            "runtime: { snapshot_every: 0, cache_states: 5, merge_retry: { max_attempts: 3 } }",
        )
        .unwrap();
        assert_eq!(config.runtime.snapshot_every, 0);
        assert_eq!(config.runtime.cache_states, 5);
        assert_eq!(config.runtime.merge_retry.max_attempts, 3);
        assert_eq!(config.runtime.merge_retry.max_delay_ms, 200);
        config.runtime.merge_retry.validate().unwrap();

        let none = MergeRetryConfig {
            max_attempts: 0,
            ..Default::default()
        };
        match none.validate() {
            Err(Error::Config { key, .. }) => assert_eq!(key, "runtime.merge_retry.max_attempts"),
            other => panic!("{other:?}"),
        }
        let inverted = MergeRetryConfig {
            base_delay_ms: 500,
            ..Default::default()
        };
        assert!(inverted.validate().is_err());
        // Loading checks the bounds too.
        assert!(Config::from_yaml("runtime: { merge_retry: { max_attempts: 0 } }").is_err());
        for (yaml, key) in [
            ("firing_guard: { lease_secs: 0 }", "firing_guard.lease_secs"),
            (
                "firing_guard: { retention_secs: 0 }",
                "firing_guard.retention_secs",
            ),
            (
                "{ messaging: { type: aws_sqs }, firing_guard: { retention_secs: 604800 } }",
                "firing_guard.retention_secs",
            ),
        ] {
            match Config::from_yaml(yaml) {
                Err(Error::Config { key: got, .. }) => assert_eq!(got, key, "{yaml}"),
                other => panic!("{yaml}: {other:?}"),
            }
        }
        // Seven days is enough for Pub/Sub; the default for every bus.
        Config::from_yaml(
            "{ messaging: { type: gcp_pubsub }, firing_guard: { retention_secs: 604800 } }",
        )
        .unwrap();
        Config::from_yaml("messaging: { type: aws_sqs }").unwrap();
        match Config::from_yaml("runtime: { snapshots_every: 10 }") {
            Err(Error::Config { key, .. }) => assert!(key.contains("runtime"), "{key}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_misspelt_section_is_refused_not_ignored() {
        match Config::from_yaml("storag: { type: redis }") {
            Err(Error::Config { key, message }) => {
                assert_eq!(key, "storag");
                assert!(message.contains("unknown section"), "{message}");
                assert!(message.contains("storage"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Host sections and the discovery variables are known.
        Config::from_yaml("lambda: {}\ngateway: {}\ncloudrun: {}\naggregate_cart: http://x")
            .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("ANGZARR_STORAGEE__TYPE", "redis");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("storagee"), "{err}");
            assert!(err.contains("environment"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_section_loads_over_its_defaults_and_names_bad_keys() {
        #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct Host {
            port: u16,
        }
        let figment = Figment::new().merge(Yaml::string("cloudrun: { port: 9 }"));
        assert_eq!(
            section::<Host>(&figment, "cloudrun").unwrap(),
            Host { port: 9 }
        );
        assert_eq!(
            section::<Host>(&figment, "lambda").unwrap(),
            Host::default()
        );
        let bad = Figment::new().merge(Yaml::string("cloudrun: { prot: 9 }"));
        match section::<Host>(&bad, "cloudrun") {
            Err(Error::Config { key, .. }) => assert_eq!(key, "cloudrun.prot"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_misspelt_key_in_a_section_is_refused() {
        let err = Config::from_yaml("storage: { redis: { urll: x } }").unwrap_err();
        assert!(err.to_string().contains("urll"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file_with_double_underscore_nesting() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "angzarr.yaml",
                "storage: { type: aws_dynamodb, aws_dynamodb: { table_name: from-file } }",
            )?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env("ANGZARR_STORAGE__AWS_DYNAMODB__TABLE_NAME", "from-env");
            jail.set_env("ANGZARR_MESSAGING__TYPE", "gcp_pubsub");
            jail.set_env("ANGZARR_MESSAGING__GCP_PUBSUB__PROJECT", "1234");
            // Discovery URLs share the prefix; the model ignores them.
            jail.set_env("ANGZARR_AGGREGATE_CART", "http://cart.local");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.storage.kind, StorageType::AwsDynamodb);
            assert_eq!(config.storage.aws_dynamodb.table_name, "from-env");
            assert_eq!(config.messaging.kind, MessagingType::GcpPubsub);
            assert_eq!(config.messaging.gcp_pubsub.project, "1234");
            Ok(())
        });
    }

    #[test]
    fn google_variables_fill_their_keys_below_angzarr_variables() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "angzarr.yaml",
                "messaging: { gcp_pubsub: { project: from-file, endpoint: 'file:1' } }",
            )?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env("GCLOUD_PROJECT", "old-name");
            jail.set_env("GOOGLE_CLOUD_PROJECT", "proj");
            jail.set_env("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085");
            jail.set_env("BIGTABLE_EMULATOR_HOST", "127.0.0.1:8086");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.messaging.gcp_pubsub.project, "proj");
            assert_eq!(config.storage.gcp_bigtable.project, "proj");
            assert_eq!(
                config.messaging.gcp_pubsub.endpoint.as_deref(),
                Some("127.0.0.1:8085")
            );
            assert_eq!(
                config.storage.gcp_bigtable.endpoint.as_deref(),
                Some("127.0.0.1:8086")
            );
            // `ANGZARR_*` still wins.
            jail.set_env("ANGZARR_MESSAGING__GCP_PUBSUB__ENDPOINT", "127.0.0.1:9999");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(
                config.messaging.gcp_pubsub.endpoint.as_deref(),
                Some("127.0.0.1:9999")
            );
            Ok(())
        });
    }

    #[test]
    fn consul_variables_fill_their_keys_below_angzarr_variables() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "angzarr.yaml",
                "discovery: { consul: { address: 'http://from-file:8500' } }",
            )?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env("CONSUL_HTTP_ADDR", "10.0.0.9:8500");
            jail.set_env("CONSUL_HTTP_TOKEN", "s3cr3t");
            let config = Config::load().map_err(|e| e.to_string())?;
            let consul = &config.discovery.consul;
            assert_eq!(consul.address, "10.0.0.9:8500");
            // The token arrives as a plain string and is a `Secret`.
            assert_eq!(consul.token.as_ref().map(Secret::expose), Some("s3cr3t"));
            assert!(!format!("{consul:?}").contains("s3cr3t"));
            jail.set_env("ANGZARR_DISCOVERY__CONSUL__ADDRESS", "http://agent:8500");
            jail.set_env("ANGZARR_DISCOVERY__CONSUL__TOKEN", "angzarr-token");
            let config = Config::load().map_err(|e| e.to_string())?;
            let consul = &config.discovery.consul;
            assert_eq!(consul.address, "http://agent:8500");
            assert_eq!(
                consul.token.as_ref().map(Secret::expose),
                Some("angzarr-token")
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_env_value_names_its_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ANGZARR_STORAGE__TYPE", "mongodb");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("storage.type"), "{err}");
            assert!(err.contains("mongodb"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ANGZARR_CONFIG", "nope.yaml");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("ANGZARR_CONFIG"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_hidden_in_debug_output() {
        let mut config = Config::default();
        config.storage.redis.url = Secret::new("redis://:hunter2@cache:6379");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert_eq!(
            config.storage.redis.url.expose(),
            "redis://:hunter2@cache:6379"
        );
    }
}
