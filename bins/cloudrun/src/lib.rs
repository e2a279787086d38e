//! # angzarr-cloudrun
//!
//! Angzarr on Google Cloud Run: one HTTP server that plays a [`Role`] —
//! `gateway`, `aggregate`, `projector-trigger`, `saga-trigger`, or `all` —
//! with Pub/Sub push endpoints for the triggers.
//!
//! * [`Adapters::from_config`]: the factory, from [`angzarr_core::config::Config`]
//!   to the store, bus, firing guard and discovery (features `cloudrun` =
//!   Pub/Sub + Bigtable, `redis`; memory always);
//! * [`Handlers`]: the business logic hosted (any [`angzarr_runtime::CommandHandler`],
//!   [`angzarr_runtime::Projector`], [`angzarr_runtime::Saga`]);
//! * [`App::router`]: each role as an [`axum::Router`];
//! * [`server::serve`]: listen on `PORT`, stop on SIGTERM, flush the publisher.
//!
//! The binary `angzarr-cloudrun` hosts the shop example ([`shop`]); a program
//! of your own does the same with its own [`Handlers`]:
//!
//! ```no_run
//! # async fn run(handlers: angzarr_cloudrun::Handlers) -> angzarr_core::Result<()> {
//! use angzarr_cloudrun::{Adapters, App, ServerSettings, server};
//! let settings = ServerSettings::from_process()?;
//! let config = angzarr_core::config::Config::load()?;
//! let adapters = Adapters::from_config(&config).await?;
//! let app = App::new(adapters, handlers, &settings)?;
//! let router = app.router(settings.role)?;
//! let listener = server::bind(&settings.host, settings.port).await?;
//! server::serve(listener, router, app.adapters(), settings.shutdown_timeout(), server::shutdown_signal()).await
//! # }
//! ```

mod adapters;
mod app;
mod handlers;
pub mod http_router;
#[cfg(feature = "cloudrun")]
pub mod provision;
mod role;
pub mod server;
mod settings;
#[cfg(feature = "shop")]
pub mod shop;
pub mod triggers;

pub use adapters::{Adapters, MESSAGING_TYPES, STORAGE_TYPES};
pub use app::App;
pub use handlers::{Handlers, ProjectorEntry, SagaEntry};
pub use http_router::HttpCommandRouter;
pub use role::Role;
pub use settings::ServerSettings;
pub use triggers::{Counts, TriggerStats};
