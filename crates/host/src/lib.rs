//! # angzarr-host
//!
//! What every platform shares (`angzarr-lambda`, `angzarr-cloudrun`, the
//! CLI): the [`Application`] a deployment hosts, and the configuration's
//! `business` section ([`BusinessConfig`]) that builds one from gRPC services
//! in any language.
//!
//! ```no_run
//! # fn demo() -> angzarr_core::Result<()> {
//! use angzarr_core::config::Config;
//! use angzarr_host::{Application, BusinessConfig};
//!
//! // Rust logic linked in, then whatever `business:` names on top.
//! let figment = Config::figment()?;
//! let app = BusinessConfig::from_figment(&figment)?.apply(Application::new())?;
//! for (domain, _) in app.aggregates() {
//!     println!("hosting {domain}");
//! }
//! # Ok(()) }
//! ```

pub mod adapters;
mod application;
mod business;
pub mod child;
pub mod coordinators;
pub mod discovery;
mod http_transport;
pub mod role;
pub mod triggers;

pub use adapters::Adapters;
pub use application::{Application, Kind, Subscribed, Types};
pub use business::{BusinessConfig, Component, SECTION, Subscriber};
pub use child::ChildProcess;
pub use coordinators::Coordinators;
pub use http_transport::{DEFAULT_COMMAND_TIMEOUT, HttpTransport, PROTOBUF};
pub use role::Role;
pub use triggers::{Counts, Delivered, DeliveryReport, TriggerStats, Triggers};
