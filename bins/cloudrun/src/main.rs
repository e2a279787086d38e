//! `angzarr-cloudrun`: the shop example as a Cloud Run service.
//!
//! ```sh
//! ANGZARR_CLOUDRUN__ROLE=all PORT=8080 cargo run -p angzarr-cloudrun
//! ```
//!
//! The role comes from `--role`, `ANGZARR_CLOUDRUN__ROLE` or the `cloudrun.role`
//! key of `$ANGZARR_CONFIG`; the adapters from the usual `storage`,
//! `messaging` and `discovery` sections (see the README).

use angzarr_bus_pubsub::push::PushAuthBuilder;
use angzarr_cloudrun::{Adapters, App, ServerSettings, server, shop};
use angzarr_core::config::Config;
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_gateway::GatewayConfig;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A second initialisation (there is none here) would be the only failure.
    let _ = angzarr_gateway::logging::init_json_logs();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "angzarr-cloudrun failed");
            eprintln!("angzarr-cloudrun: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> angzarr_core::Result<()> {
    let settings = ServerSettings::from_process()?;
    let config = Config::load()?;
    let adapters = Adapters::from_config(&config).await?;
    let summaries = OrderSummaries::default();
    let mut app = App::new(adapters, shop::handlers(&summaries)?, &settings)?
        .with_gateway_config(GatewayConfig::load()?);
    let push_auth = PushAuthBuilder::from_env();
    if push_auth.is_configured() {
        app = app.with_push_auth(push_auth.build()?);
    }
    let router = app.router(settings.role)?;
    let listener = server::bind(&settings.host, settings.port).await?;
    tracing::info!(role = %settings.role, port = settings.port, "angzarr-cloudrun serving");
    server::serve(
        listener,
        router,
        app.adapters(),
        settings.shutdown_timeout(),
        server::shutdown_signal(),
    )
    .await
}
