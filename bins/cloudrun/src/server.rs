//! Serving a router on Cloud Run: listen on `PORT`, stop on SIGTERM after
//! in-flight requests (bounded), then flush the publisher.

use std::future::Future;
use std::time::Duration;

use angzarr_core::{Error, Result};
use axum::Router;
use tokio::net::TcpListener;

use angzarr_host::Adapters;

/// Resolves on SIGTERM (what Cloud Run sends before stopping an instance)
/// or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupted"),
        () = term => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then lets
/// in-flight requests finish for at most `grace`, and flushes the bus of
/// `adapters` (publishes still in flight are answered before returning).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    adapters: &Adapters,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let mut stopped = stop_rx.clone();
    let deadline = async move {
        if stopped.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    let outcome = tokio::select! {
        served = server => served.map_err(|e| Error::unavailable("http server", e)),
        () = deadline => {
            tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    };
    adapters.flush().await;
    tracing::info!("publisher flushed; stopped");
    outcome
}

/// Binds `host:port`.
pub async fn bind(host: &str, port: u16) -> Result<TcpListener> {
    TcpListener::bind((host, port)).await.map_err(|e| {
        Error::config(
            "cloudrun.port",
            format!("cannot listen on {host}:{port}: {e}"),
        )
    })
}
