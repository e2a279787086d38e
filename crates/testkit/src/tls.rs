//! Test-only TLS material (see `tls/README.md` in this crate): a throw-away
//! CA certificate (its key was deleted after signing) and a certificate and
//! key for `127.0.0.1` / `localhost` signed by it, valid until 2126. They
//! protect nothing; never use them outside tests.

/// The directory holding `ca.crt`, `server.crt` and `server.key`.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tls");

/// The CA certificate, PEM.
pub const CA_CERT_PEM: &[u8] = include_bytes!("../tls/ca.crt");

/// The server certificate for `127.0.0.1` / `localhost`, PEM.
pub const SERVER_CERT_PEM: &[u8] = include_bytes!("../tls/server.crt");

/// The server certificate's private key, PEM.
pub const SERVER_KEY_PEM: &[u8] = include_bytes!("../tls/server.key");

/// The path of `file` (`ca.crt`, `server.crt`, `server.key`) in [`DIR`].
pub fn path(file: &str) -> String {
    format!("{DIR}/{file}")
}
