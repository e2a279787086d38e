//! The Kinesis client, from the settings shared by every AWS adapter
//! ([`angzarr_aws::ClientSettings`]: no metadata-service probing when region
//! and credentials are given, an endpoint override for emulators).

use angzarr_aws::ClientSettings;

/// The Kinesis client.
pub(crate) fn client(
    settings: &ClientSettings,
    sdk: &aws_config::SdkConfig,
) -> aws_sdk_kinesis::Client {
    let mut config = aws_sdk_kinesis::config::Builder::from(sdk);
    if let Some(counter) = &settings.counter {
        config = config.interceptor(counter.clone());
    }
    aws_sdk_kinesis::Client::from_conf(config.build())
}
