//! The Cloud Map client, from the settings shared by every AWS adapter
//! ([`angzarr_aws::ClientSettings`]: no metadata-service probing when region
//! and credentials are given, an endpoint override for emulators).

use std::time::Duration;

use angzarr_aws::ClientSettings;
use aws_sdk_servicediscovery::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_servicediscovery::config::{ConfigBag, Intercept, RuntimeComponents};

/// The settings' defaults, failing fast: discovery sits on the request path.
pub(crate) fn default_settings() -> ClientSettings {
    ClientSettings::with_operation_timeout(Duration::from_secs(5))
}

/// The Cloud Map client. With an endpoint override, the `data-` host
/// prefix the SDK adds to `DiscoverInstances` is taken off again: an
/// emulator on `127.0.0.1` has no `data-127.0.0.1` host.
pub(crate) fn client(
    settings: &ClientSettings,
    sdk: &aws_config::SdkConfig,
) -> aws_sdk_servicediscovery::Client {
    let mut config = aws_sdk_servicediscovery::config::Builder::from(sdk);
    if let Some(counter) = &settings.counter {
        config = config.interceptor(counter.clone());
    }
    if settings.endpoint.is_some() {
        config = config.interceptor(StripDataHostPrefix);
    }
    aws_sdk_servicediscovery::Client::from_conf(config.build())
}

/// Removes the `data-` prefix from the request's host (see [`client`]).
#[derive(Debug)]
struct StripDataHostPrefix;

impl Intercept for StripDataHostPrefix {
    fn name(&self) -> &'static str {
        "angzarr-strip-data-host-prefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_servicediscovery::error::BoxError> {
        let request = context.request_mut();
        if let Some(stripped) = strip_data_prefix(request.uri()) {
            request.set_uri(stripped)?;
        }
        Ok(())
    }
}

/// `http://data-host:port/...` → `http://host:port/...`; `None` when the
/// host has no such prefix.
fn strip_data_prefix(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let host = rest.strip_prefix("data-")?;
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::strip_data_prefix;

    #[test]
    fn only_the_data_prefix_is_removed() {
        assert_eq!(
            strip_data_prefix("http://data-127.0.0.1:5000/").as_deref(),
            Some("http://127.0.0.1:5000/")
        );
        assert_eq!(strip_data_prefix("http://127.0.0.1:5000/"), None);
    }
}
