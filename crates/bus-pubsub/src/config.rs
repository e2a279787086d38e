//! The validated settings of the Pub/Sub bus, and the names it derives from them.

use std::time::Duration;

use angzarr_core::{Error, Result};

/// Pub/Sub's own limit on a message's data is 10 MB (10,000,000 bytes). The
/// default keeps 16 KiB of that for the attributes, the ordering key and the
/// request framing, so a book at the limit is never refused by the server.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 10_000_000 - 16 * 1024;
/// The most a message may carry, per Pub/Sub's quotas.
pub const PUBSUB_MAX_MESSAGE_BYTES: usize = 10_000_000;
/// The default topic prefix: a domain's topic is `angzarr-events-{domain}`.
pub const DEFAULT_TOPIC_PREFIX: &str = "angzarr-events-";

/// Everything the bus needs, checked by the builder's `build()`.
#[derive(Clone, Debug, PartialEq)]
pub struct PubSubSettings {
    /// Google Cloud project id (`messaging.gcp_pubsub.project`).
    pub project: String,
    /// Topic name prefix (`messaging.gcp_pubsub.topic_prefix`).
    pub topic_prefix: String,
    /// The subscription a pull consumer reads (`messaging.gcp_pubsub.subscription`).
    pub subscription: Option<String>,
    /// Emulator `host:port` (`messaging.gcp_pubsub.endpoint`, `PUBSUB_EMULATOR_HOST`);
    /// `None` talks to `pubsub.googleapis.com` with Application Default Credentials.
    pub endpoint: Option<String>,
    /// The largest encoded book published inline.
    pub max_message_bytes: usize,
    /// Deadline of one gRPC request.
    pub request_timeout: Duration,
    /// Deadline of opening a connection.
    pub connect_timeout: Duration,
    /// How many times a request failing with a retriable status is retried.
    pub retries: usize,
    /// Concurrent publish workers per topic (per ordering-key shard).
    pub publisher_workers: usize,
}

impl Default for PubSubSettings {
    fn default() -> Self {
        Self {
            project: String::new(),
            topic_prefix: DEFAULT_TOPIC_PREFIX.to_owned(),
            subscription: None,
            endpoint: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            publisher_workers: 3,
        }
    }
}

impl PubSubSettings {
    /// Checks every setting; errors name the configuration key.
    pub fn validate(&self) -> Result<()> {
        if self.project.trim().is_empty() {
            return Err(Error::config(
                "messaging.gcp_pubsub.project",
                "a Google Cloud project id is required (or GOOGLE_CLOUD_PROJECT)",
            ));
        }
        // The prefix must make valid topic names once a domain is appended.
        validate_resource_name(&format!("{}domain", self.topic_prefix)).map_err(|why| {
            Error::config(
                "messaging.gcp_pubsub.topic_prefix",
                format!("`{}` {why}", self.topic_prefix),
            )
        })?;
        if let Some(subscription) = &self.subscription {
            validate_resource_name(subscription).map_err(|why| {
                Error::config(
                    "messaging.gcp_pubsub.subscription",
                    format!("`{subscription}` {why}"),
                )
            })?;
        }
        if let Some(endpoint) = &self.endpoint {
            validate_endpoint(endpoint)?;
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > PUBSUB_MAX_MESSAGE_BYTES {
            return Err(Error::config(
                "messaging.gcp_pubsub.max_message_bytes",
                format!("must be between 1 and {PUBSUB_MAX_MESSAGE_BYTES}"),
            ));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config(
                "messaging.gcp_pubsub.request_timeout",
                "timeouts must be greater than zero",
            ));
        }
        if self.publisher_workers == 0 {
            return Err(Error::config(
                "messaging.gcp_pubsub.publisher_workers",
                "at least one publish worker is needed",
            ));
        }
        Ok(())
    }

    /// The topic id of `domain`: `{topic_prefix}{domain}`.
    pub fn topic_id(&self, domain: &str) -> Result<String> {
        let topic = format!("{}{domain}", self.topic_prefix);
        validate_resource_name(&topic).map_err(|why| {
            Error::invalid_argument(format!(
                "domain `{domain}` gives the topic name `{topic}`, which {why}"
            ))
        })?;
        Ok(topic)
    }
}

/// `host:port` without a scheme, as `PUBSUB_EMULATOR_HOST` is written.
fn validate_endpoint(endpoint: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(Error::config(
            "messaging.gcp_pubsub.endpoint",
            format!("`{endpoint}` {why}; expected `host:port`, e.g. `127.0.0.1:8085`"),
        ))
    };
    if endpoint.contains("://") {
        return fail("has a scheme");
    }
    match endpoint.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => fail("is not host:port"),
    }
}

/// Pub/Sub's rule for topic and subscription ids: 3 to 255 characters, a
/// letter first, then letters, digits and `-_.~+%`, not starting with `goog`.
pub fn validate_resource_name(name: &str) -> std::result::Result<(), &'static str> {
    if !(3..=255).contains(&name.len()) {
        return Err("must be 3 to 255 characters long");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("must start with a letter");
    }
    if name.to_ascii_lowercase().starts_with("goog") {
        return Err("must not start with `goog`");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~+%".contains(c))
    {
        return Err("may only contain letters, digits and `-_.~+%`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> PubSubSettings {
        PubSubSettings {
            project: "demo".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_valid_once_a_project_is_given() {
        assert!(valid().validate().is_ok());
        let err = PubSubSettings::default().validate().unwrap_err();
        assert!(
            matches!(err, Error::Config { ref key, .. } if key == "messaging.gcp_pubsub.project")
        );
    }

    #[test]
    fn topic_names_follow_pubsub_rules() {
        assert_eq!(valid().topic_id("order").unwrap(), "angzarr-events-order");
        let bare = PubSubSettings {
            topic_prefix: String::new(),
            ..valid()
        };
        assert!(bare.topic_id("ab").is_err());
        assert!(valid().topic_id("ord er").is_err());
        let goog = PubSubSettings {
            topic_prefix: "google-".into(),
            ..valid()
        };
        assert!(goog.validate().is_err());
    }

    #[test]
    fn endpoints_are_host_and_port() {
        for bad in ["http://127.0.0.1:8085", "localhost", "127.0.0.1:x"] {
            let settings = PubSubSettings {
                endpoint: Some(bad.into()),
                ..valid()
            };
            let err = settings.validate().unwrap_err();
            assert!(
                matches!(err, Error::Config { ref key, .. } if key == "messaging.gcp_pubsub.endpoint"),
                "{bad}"
            );
        }
    }

    #[test]
    fn message_limit_is_bounded_by_pubsub() {
        let settings = PubSubSettings {
            max_message_bytes: PUBSUB_MAX_MESSAGE_BYTES + 1,
            ..valid()
        };
        assert!(settings.validate().is_err());
    }
}
