//! Structured JSON logs: one line per event, with the request's method and
//! path from its span. Every request yields one `angzarr_gateway::access`
//! event with `status` and `latency_ms`.
//!
//! ```json
//! {"timestamp":"...","level":"INFO","fields":{"message":"request","status":200,"latency_ms":1.2},
//!  "target":"angzarr_gateway::access","span":{"method":"POST","path":"/v1/commands","name":"request"}}
//! ```

use angzarr_core::{Error, Result};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// A JSON subscriber writing to `writer`, filtered by `RUST_LOG` (default `info`).
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .finish()
}

/// Installs [`json_subscriber`] on stdout as the global default (Lambda and
/// Cloud Run collect stdout).
pub fn init_json_logs() -> Result<()> {
    tracing::subscriber::set_global_default(json_subscriber(std::io::stdout))
        .map_err(|e| Error::config("RUST_LOG", format!("logging already initialised: {e}")))
}
