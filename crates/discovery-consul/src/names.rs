//! Service names and endpoint URLs.

use url::Url;

use crate::model::ServiceEntry;

/// Tag of services that are projectors.
pub const PROJECTOR_TAG: &str = "angzarr-projector";
/// Tag prefix of services that are sagas: `angzarr-saga=<source domain>`,
/// one tag per source domain the saga reacts to.
pub const SAGA_TAG_PREFIX: &str = "angzarr-saga=";
/// Tag that makes an instance's URL `https` (otherwise `http`).
pub const HTTPS_TAG: &str = "https";
/// Service meta key that, set to `https`, does the same as [`HTTPS_TAG`].
pub const SCHEME_META: &str = "scheme";

/// A domain as it appears in Consul service names and tags: lower case,
/// `_` written as `-` (service names are DNS labels).
pub fn dns_name(domain: &str) -> String {
    domain
        .trim()
        .chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether `name` can be put in a URL path unescaped and is a DNS name.
pub(crate) fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// The URL of one healthy instance: `Service.Address` (or `Node.Address`
/// when that is empty) and `Service.Port`; `https` if the service carries
/// the [`HTTPS_TAG`] tag or the meta `scheme: https`.
pub(crate) fn instance_url(entry: &ServiceEntry) -> Option<Url> {
    let address = if entry.service.address.is_empty() {
        &entry.node.address
    } else {
        &entry.service.address
    };
    if address.is_empty() || entry.service.port == 0 {
        return None;
    }
    let https = entry.service.tags.iter().any(|t| t == HTTPS_TAG)
        || entry.service.meta.get(SCHEME_META).map(String::as_str) == Some("https");
    let scheme = if https { "https" } else { "http" };
    // An IPv6 literal needs brackets in a URL.
    let host = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.clone()
    };
    Url::parse(&format!("{scheme}://{host}:{}/", entry.service.port)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AgentService, Node};

    fn entry(service_address: &str, node_address: &str, tags: &[&str]) -> ServiceEntry {
        ServiceEntry {
            node: Node {
                address: node_address.into(),
            },
            service: AgentService {
                address: service_address.into(),
                port: 8080,
                tags: tags.iter().map(|t| t.to_string()).collect(),
                meta: Default::default(),
            },
        }
    }

    #[test]
    fn urls_prefer_the_service_address_and_honour_the_https_tag() {
        let url = |e| instance_url(&e).unwrap().to_string();
        assert_eq!(
            url(entry("10.0.0.5", "10.0.0.1", &[])),
            "http://10.0.0.5:8080/"
        );
        assert_eq!(
            url(entry("", "10.0.0.1", &["https"])),
            "https://10.0.0.1:8080/"
        );
        assert_eq!(url(entry("fd00::5", "", &[])), "http://[fd00::5]:8080/");
        assert!(instance_url(&entry("", "", &[])).is_none());
        let mut by_meta = entry("10.0.0.5", "", &[]);
        by_meta
            .service
            .meta
            .insert(SCHEME_META.into(), "https".into());
        assert_eq!(url(by_meta), "https://10.0.0.5:8080/");
        assert_eq!(dns_name("Order_Fulfillment"), "order-fulfillment");
    }
}
