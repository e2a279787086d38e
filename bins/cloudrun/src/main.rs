//! `angzarr-cloudrun`, the stock Cloud Run service: hosts what the
//! configuration's `business` section names (gRPC services in any language).
//!
//! ```sh
//! ANGZARR_CONFIG=angzarr.yaml ANGZARR_ROLE=all PORT=8080 angzarr-cloudrun
//! ```
//!
//! The role comes from `--role`, `ANGZARR_ROLE` or the `role` key of
//! `$ANGZARR_CONFIG`; the adapters from the usual `storage`, `messaging` and
//! `discovery` sections (see the README).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    angzarr_cloudrun::run(angzarr_host::Application::new()).await
}
