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
//! The binary `angzarr-cloudrun` hosts what the configuration's `business`
//! section names (gRPC services in any language). A Rust application links
//! its logic in and calls [`run`] from its `main`, which applies every
//! section the stock binary applies:
//!
//! ```no_run
//! # async fn demo(cart: std::sync::Arc<dyn angzarr_runtime::CommandHandler>) -> std::process::ExitCode {
//! angzarr_cloudrun::run(angzarr_host::Application::new().aggregate("cart", cart)).await
//! # }
//! ```

mod app;
mod handlers;
#[cfg(feature = "cloudrun")]
pub mod provision;
mod run;
pub mod server;
mod settings;
pub mod triggers;

pub use angzarr_host::Adapters;
pub use angzarr_host::Role;
pub use angzarr_host::adapters::{MESSAGING_TYPES, STORAGE_TYPES};
pub use app::App;
pub use handlers::{Handlers, ProjectorEntry, SagaEntry};
pub use run::{run, try_run};
pub use settings::ServerSettings;
pub use triggers::{Counts, TriggerStats};
