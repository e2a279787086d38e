//! The receive side of the event-driven topology: Pub/Sub pushes each
//! delivery as an HTTP request to a function (Cloud Run), which answers 2xx
//! only once the work is done.

pub mod auth;
pub mod envelope;
mod jwks;
pub mod receiver;

pub use auth::{AuthError, PushAuth, PushAuthBuilder, PushAuthConfig, PushClaims};
pub use envelope::{PushEnvelope, PushMessage};
pub use jwks::GOOGLE_JWKS_URL;
pub use receiver::{DEFAULT_BODY_LIMIT, PushHandler, PushReceiver};
