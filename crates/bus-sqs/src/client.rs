//! The SNS and SQS clients, from the settings shared by every AWS adapter
//! ([`angzarr_aws::ClientSettings`]: no metadata-service probing when region
//! and credentials are given, an endpoint override for emulators).

use std::time::Duration;

use angzarr_aws::ClientSettings;

/// The settings' defaults, with a per-attempt timeout long enough for a
/// 20 s long poll.
pub(crate) fn default_settings() -> ClientSettings {
    ClientSettings::with_operation_timeout(Duration::from_secs(30))
}

/// The SNS client.
pub(crate) fn sns(settings: &ClientSettings, sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    let mut config = aws_sdk_sns::config::Builder::from(sdk);
    if let Some(counter) = &settings.counter {
        config = config.interceptor(counter.clone());
    }
    aws_sdk_sns::Client::from_conf(config.build())
}

/// The SQS client.
pub(crate) fn sqs(settings: &ClientSettings, sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    let mut config = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(counter) = &settings.counter {
        config = config.interceptor(counter.clone());
    }
    aws_sdk_sqs::Client::from_conf(config.build())
}
