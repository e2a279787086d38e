//! Google Cloud Pub/Sub for Angzarr.
//!
//! - [`PubSubBus`] ([`angzarr_core::EventBus`]): publishes each event book to
//!   topic `{topic_prefix}{domain}` with the attributes `domain`, `root_id`,
//!   `correlation_id`, ordering key = root id, protobuf data; waits for the
//!   server's acceptance; offloads books over the limit to a
//!   [`angzarr_core::PayloadStore`] when one is given.
//! - [`push::PushReceiver`]: an axum endpoint for push subscriptions, with
//!   optional OIDC token verification ([`push::PushAuth`]).
//! - [`PubSubSubscriber`] ([`angzarr_core::Subscription`]): a streaming-pull
//!   consumer for the persistent topology.
//! - [`PubSubAdmin`]: topic and subscription creation for tests and tooling.
//!
//! Built with [`PubSubBuilder`] from the `messaging.gcp_pubsub` section or the
//! environment; see the crate README for limits, IAM roles and measured
//! round trips.

mod admin;
mod builder;
mod client;
mod config;
mod error;
mod publisher;
pub mod push;
mod subscriber;

pub use admin::{PubSubAdmin, PushOidc};
pub use builder::PubSubBuilder;
pub use config::{
    DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TOPIC_PREFIX, PUBSUB_MAX_MESSAGE_BYTES, PubSubSettings,
    validate_resource_name,
};
pub use publisher::PubSubBus;
pub use subscriber::PubSubSubscriber;
