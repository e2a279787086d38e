//! [`run`]: a whole Cloud Run service from an application, as the stock
//! binary runs it.

use std::process::ExitCode;

use angzarr_bus_pubsub::push::PushAuthBuilder;
use angzarr_core::Result;
use angzarr_core::config::Config;
use angzarr_gateway::GatewayConfig;
use angzarr_host::BusinessConfig;

use crate::{Adapters, App, Handlers, ServerSettings, server};

/// Serves `handlers`, plus whatever the configuration's `business` section
/// names, in the configured role (`ANGZARR_ROLE`, `--role`; default `all`)
/// on `PORT`, until SIGTERM; logs as JSON and returns the process's exit
/// code (a start-up error is logged and printed).
///
/// ```no_run
/// # async fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>) -> std::process::ExitCode {
/// angzarr_cloudrun::run(angzarr_host::Application::new().aggregate("cart", cart)).await
/// # }
/// ```
pub async fn run(handlers: impl Into<Handlers>) -> ExitCode {
    // A second initialisation (a test's) would be the only failure.
    let _ = angzarr_gateway::logging::init_json_logs();
    match try_run(handlers.into()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "angzarr-cloudrun failed");
            eprintln!("angzarr-cloudrun: {error}");
            ExitCode::FAILURE
        }
    }
}

/// [`run`] without the logging and exit code: every section the stock
/// binary applies (`storage`, `messaging`, `discovery`, `firing_guard`,
/// `runtime`, `gateway`, `business`, `cloudrun`, push authentication).
pub async fn try_run(handlers: Handlers) -> Result<()> {
    // The configuration is read once, for every section.
    let figment = Config::figment()?;
    let port = std::env::var("PORT").ok();
    let settings = ServerSettings::load(&figment, port.as_deref(), std::env::args().skip(1))?;
    let config = Config::from_figment(figment.clone())?;
    let handlers =
        handlers.with_application(|app| BusinessConfig::from_figment(&figment)?.apply(app))?;
    // Business logic the service runs beside it serves before the first request.
    handlers.application().start(settings.role).await?;
    let adapters = Adapters::from_config(&config).await?;
    let mut app = App::new(adapters, handlers, &settings)?
        .with_gateway_config(GatewayConfig::from_figment(&figment)?);
    let push_auth = PushAuthBuilder::from_figment(&figment)?;
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
