//! The root certificates the SDK's HTTPS client trusts.
//!
//! The SDK's default client reads the system's root store when the first
//! client is made: it parses the whole bundle (about 150 certificates) and,
//! where `openssl-probe` finds one, every file of the certificate directory
//! too. In a function that is most of the cold start left once the clients
//! are shared (measured in docs/benchmarks.md). Every AWS service endpoint
//! presents a certificate of Amazon Trust Services, so [`TrustRoots::Amazon`]
//! trusts just those roots, compiled in: nothing is read from disk and five
//! certificates are parsed. Endpoints signed by another CA (an emulator or a
//! proxy over HTTPS) need [`TrustRoots::System`] or their CA added with
//! `ca_cert_file`.
//!
//! Every client here uses rustls with ring, the crypto provider the rest of
//! the workspace (tonic, hyper-rustls, redis) already links. The SDK's
//! default client would bring aws-lc as a second one: about 2 MB more code
//! in every binary, and a CPU probe at start (docs/benchmarks.md).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use angzarr_core::{Error, Result};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

/// The Amazon Trust Services roots (Amazon Root CA 1–4 and Starfield
/// Services Root CA G2, the cross-signing root), as PEM.
pub const AMAZON_TRUST_SERVICES_PEM: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// Which root certificates the SDK's HTTPS client trusts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRoots {
    /// The system's root store, as the SDK does by default (`SSL_CERT_FILE`
    /// and `SSL_CERT_DIR` are honoured).
    #[default]
    System,
    /// Only the Amazon Trust Services roots, compiled in.
    Amazon,
}

impl fmt::Display for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::System => "system",
            Self::Amazon => "amazon",
        })
    }
}

/// The certificates of a PEM document, each checked to be usable as a trust
/// anchor (the SDK would panic on one that is not); `what` names the source
/// in errors.
fn anchors(pem: &[u8], what: &str) -> Result<usize> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| Error::config(what.to_owned(), format!("not PEM certificates: {e}")))?;
        webpki::anchor_from_trusted_cert(&cert).map_err(|e| {
            Error::config(
                what.to_owned(),
                format!("certificate {} is unusable: {e:?}", count + 1),
            )
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::config(what.to_owned(), "holds no PEM certificate"));
    }
    Ok(count)
}

/// An HTTPS client like the SDK's default one (rustls, the proxy settings
/// of the environment) but with ring as its crypto provider, that trusts
/// `roots` plus the PEM certificates of `extra_pem` (e.g. a private CA's);
/// `key` names the configuration key of `extra_pem` in errors.
pub fn https_client(
    roots: TrustRoots,
    extra_pem: Option<&[u8]>,
    key: &str,
) -> Result<SharedHttpClient> {
    let mut store = match roots {
        TrustRoots::System => TrustStore::default(),
        TrustRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_PEM),
    };
    if let Some(pem) = extra_pem {
        anchors(pem, key)?;
        store = store.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| Error::config(key.to_owned(), format!("TLS settings: {e}")))?;
    Ok(client(context, roots == TrustRoots::System))
}

/// The client of [`https_client`] with the system's roots and nothing
/// extra, made once per process: what an SDK configuration gets when none is
/// given (the SDK itself has no default client in this build).
pub fn default_https_client() -> SharedHttpClient {
    static CLIENT: std::sync::OnceLock<SharedHttpClient> = std::sync::OnceLock::new();
    // `TlsContext::default()` trusts the system's roots; it holds settings
    // only, so nothing is read before the first connection.
    CLIENT
        .get_or_init(|| client(TlsContext::default(), true))
        .clone()
}

/// An HTTPS client built as `aws_smithy_runtime`'s default one builds its
/// connectors, with rustls over ring and the TLS settings of `context`.
///
/// Each SDK client, when it is made, asks its HTTP client for a connector
/// with neither settings nor runtime components and drops it
/// (`validate_base_client_config`): the SDK's way of reading the system's
/// roots at start rather than at the first request. A TLS connector costs a
/// rustls configuration, its root store parsed again, each time; so only
/// the first of these asks, and only where the system's roots are trusted
/// (`system_roots`), gets one: it loads them, once per process. The others
/// get a plain connector, never used. The connectors that send requests are
/// made (and kept) per connector settings on first use, as before.
fn client(context: TlsContext, system_roots: bool) -> SharedHttpClient {
    let roots_loaded = AtomicBool::new(!system_roots);
    Builder::new().build_with_connector_fn(move |settings, components| {
        if settings.is_none() && components.is_none() && roots_loaded.swap(true, Ordering::Relaxed)
        {
            return ConnectorBuilder::default().build_http();
        }
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
        assert_eq!(anchors(AMAZON_TRUST_SERVICES_PEM, "roots").unwrap(), 5);
        let text = String::from_utf8_lossy(AMAZON_TRUST_SERVICES_PEM);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(text.contains(name), "{name} is missing");
        }
    }

    #[test]
    fn extra_certificates_that_are_not_pem_certificates_are_refused_with_the_key() {
        for bad in [
            &b"not a certificate"[..],
            b"",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let error = https_client(TrustRoots::Amazon, Some(bad), "lambda.ca_cert_file")
                .map(|_| ())
                .unwrap_err();
            assert!(matches!(error, Error::Config { .. }), "{error}");
            assert!(error.to_string().contains("lambda.ca_cert_file"), "{error}");
        }
    }

    #[test]
    fn the_setting_reads_as_lower_case_words() {
        let roots: TrustRoots = serde_json::from_str("\"amazon\"").unwrap();
        assert_eq!(roots, TrustRoots::Amazon);
        assert_eq!(roots.to_string(), "amazon");
    }
}
