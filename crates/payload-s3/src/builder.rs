//! [`Builder`]: settings from code or from the `payload.aws_s3` section of
//! the configuration tree ([`S3PayloadConfig`]), validated once in
//! [`Builder::build`].

use angzarr_core::config::Config;
use angzarr_core::{Error, Result};
use aws_sdk_s3::Client;
use figment::Figment;

use crate::config::S3PayloadConfig;
use crate::store::S3PayloadStore;
use angzarr_aws::ClientSettings;

/// The configuration section this builder reads, for error messages.
const SECTION: &str = "payload.aws_s3";

/// Builds an [`S3PayloadStore`].
///
/// ```no_run
/// # async fn demo() -> angzarr_core::Result<()> {
/// let payloads = angzarr_payload_s3::Builder::new()
///     .with_bucket("shop-payloads")
///     .with_prefix("events/")
///     .with_endpoint("http://127.0.0.1:5000")
///     .build()
///     .await?;
/// # let _ = payloads; Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    bucket: String,
    prefix: String,
    client: ClientSettings,
    existing_client: Option<Client>,
}

impl Builder {
    /// No bucket yet; region and credentials from the SDK's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings from a [`S3PayloadConfig`].
    pub fn from_config(config: &S3PayloadConfig) -> Self {
        Self {
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            client: ClientSettings {
                region: config.region.clone(),
                endpoint: config.endpoint.clone(),
                ..ClientSettings::default()
            },
            existing_client: None,
        }
    }

    /// Settings from the `payload.aws_s3` section of `figment` (one already
    /// loaded, e.g. with [`Config::figment`]) through
    /// [`Builder::from_config`]; an unknown key or a value of the wrong kind
    /// fails, naming `payload.aws_s3.<key>`.
    pub fn from_figment(figment: &Figment) -> Result<Self> {
        Ok(Self::from_config(&S3PayloadConfig::from_figment(figment)?))
    }

    /// [`Builder::from_figment`] over the loaded configuration tree
    /// ([`Config::figment`]: the `$ANGZARR_CONFIG` file and the
    /// `ANGZARR_PAYLOAD__AWS_S3__*` variables), so it and
    /// [`Builder::from_config`] cannot disagree. What the tree leaves unset
    /// the AWS SDK finds itself: the region in `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, the endpoint in `AWS_ENDPOINT_URL_S3` /
    /// `AWS_ENDPOINT_URL`, credentials in `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` or its other usual
    /// sources.
    pub fn from_env() -> Result<Self> {
        Self::from_figment(&Config::figment()?)
    }

    /// The bucket.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    /// The prefix of every object key.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    angzarr_aws::client_setters!(client);

    /// Uses an SDK client built elsewhere; region, endpoint, credentials,
    /// timeout and attempts are then ignored.
    pub fn with_client(mut self, client: Client) -> Self {
        self.existing_client = Some(client);
        self
    }

    /// Validates the settings and creates the SDK client.
    pub async fn build(self) -> Result<S3PayloadStore> {
        check_bucket(&self.bucket)?;
        self.client.validate(SECTION)?;
        if self.prefix.starts_with('/') {
            return Err(Error::config(
                format!("{SECTION}.prefix"),
                "must not start with `/`",
            ));
        }
        let client = match self.existing_client {
            Some(client) => client,
            None => {
                let shared = self.client.sdk_config().await;
                let mut config = aws_sdk_s3::config::Builder::from(&shared);
                if self.client.endpoint.is_some() {
                    // Emulators serve buckets by path, not by virtual host.
                    config = config.force_path_style(true);
                }
                if let Some(counter) = &self.client.counter {
                    config = config.interceptor(counter.clone());
                }
                Client::from_conf(config.build())
            }
        };
        Ok(S3PayloadStore::new(client, self.bucket, self.prefix))
    }
}

/// S3 bucket names: 3 to 63 of `a-z 0-9 . -`, starting and ending with a
/// letter or digit.
fn check_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            format!("{SECTION}.bucket"),
            format!("`{bucket}` is not an S3 bucket name (3-63 of a-z, 0-9, `.`, `-`)"),
        ))
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::PayloadConfig;
    use figment::providers::{Format, Yaml};

    #[test]
    fn the_tree_reaches_the_builder() {
        let figment = Figment::new().merge(Yaml::string(
            "payload: { aws_s3: { bucket: shop-payloads, prefix: events/, region: eu-west-1, endpoint: 'http://127.0.0.1:5000' } }",
        ));
        let builder = Builder::from_figment(&figment).unwrap();
        assert_eq!(builder.bucket, "shop-payloads");
        assert_eq!(builder.prefix, "events/");
        assert_eq!(builder.client.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            builder.client.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        // Nothing under `payload`: the defaults.
        assert_eq!(
            PayloadConfig::from_figment(&Figment::new()).unwrap(),
            PayloadConfig::default()
        );
    }

    #[test]
    fn from_env_reads_the_tree_and_names_bad_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "angzarr.yaml",
                "payload: { aws_s3: { bucket: from-file, prefix: events/ } }",
            )?;
            jail.set_env("ANGZARR_CONFIG", "angzarr.yaml");
            jail.set_env("ANGZARR_PAYLOAD__AWS_S3__BUCKET", "from-env");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.bucket, "from-env");
            assert_eq!(builder.prefix, "events/");
            // An all-digit bucket name arrives as a number and is accepted.
            jail.set_env("ANGZARR_PAYLOAD__AWS_S3__BUCKET", "123456");
            let builder = Builder::from_env().map_err(|e| e.to_string())?;
            assert_eq!(builder.bucket, "123456");
            jail.set_env("ANGZARR_PAYLOAD__AWS_S3__BUCKT", "typo");
            match Builder::from_env() {
                Err(Error::Config { key, .. }) => assert_eq!(key, "payload.aws_s3.buckt"),
                other => panic!("expected a config error, got {other:?}"),
            }
            Ok(())
        });
    }

    #[tokio::test]
    async fn a_missing_bucket_names_its_key() {
        let err = Builder::new().build().await.map(|_| ()).err();
        assert!(
            matches!(&err, Some(Error::Config { key, .. }) if key == "payload.aws_s3.bucket"),
            "{err:?}"
        );
        let err = Builder::new()
            .with_bucket("ok-bucket")
            .with_endpoint("127.0.0.1:5000")
            .build()
            .await
            .map(|_| ())
            .err();
        assert!(
            matches!(&err, Some(Error::Config { key, .. }) if key == "payload.aws_s3.endpoint"),
            "{err:?}"
        );
    }
}
