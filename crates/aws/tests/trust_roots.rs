//! The trust roots of the SDK's HTTPS client, over real TLS: DynamoDB calls
//! to moto through a TLS-terminating proxy on loopback whose certificate is
//! signed by the testkit's throw-away CA. With only the Amazon roots the
//! handshake is refused; with that CA added, or in the system store plus
//! that CA, the same call succeeds — so the client built here is the one the
//! SDK uses, and it trusts exactly what it is given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use angzarr_aws::{ClientSettings, TrustRoots, https_client};
use angzarr_testkit::{emulators, tls};
use aws_smithy_types::error::display::DisplayErrorContext;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Listens with TLS on a free loopback port and relays every connection to
/// `upstream` (`host:port`); returns the `https://` endpoint.
async fn tls_proxy(upstream: String) -> String {
    let certs = CertificateDer::pem_slice_iter(tls::SERVER_CERT_PEM)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(tls::SERVER_KEY_PEM).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                // A refused handshake ends here, as a real endpoint's would.
                let Ok(mut client) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

/// `ListTables` through the proxy with an HTTPS client trusting `roots`
/// plus `extra`.
async fn list_tables(
    endpoint: &str,
    roots: TrustRoots,
    extra: Option<&[u8]>,
) -> Result<(), String> {
    let settings = ClientSettings {
        endpoint: Some(endpoint.to_owned()),
        region: Some("us-east-1".into()),
        http_client: Some(https_client(roots, extra, "test.ca_cert_file").unwrap()),
        max_attempts: 1,
        ..ClientSettings::default()
    };
    let client = aws_sdk_dynamodb::Client::new(&settings.sdk_config().await);
    client
        .list_tables()
        .send()
        .await
        .map(drop)
        .map_err(|e| DisplayErrorContext(e).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_given_roots_are_trusted() {
    let moto = emulators::moto().await.endpoint();
    let upstream = moto.trim_start_matches("http://").to_owned();
    let endpoint = tls_proxy(upstream).await;

    let refused = list_tables(&endpoint, TrustRoots::Amazon, None)
        .await
        .unwrap_err();
    assert!(
        refused.contains("certificate") || refused.contains("UnknownIssuer"),
        "not a certificate error: {refused}"
    );

    list_tables(&endpoint, TrustRoots::Amazon, Some(tls::CA_CERT_PEM))
        .await
        .unwrap();
    list_tables(&endpoint, TrustRoots::System, Some(tls::CA_CERT_PEM))
        .await
        .unwrap();
}
