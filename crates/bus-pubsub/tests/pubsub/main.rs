//! The Pub/Sub bus against the real Pub/Sub emulator (started by the testkit):
//! every event-bus conformance suite, push delivery and retries, push
//! authentication, the emulator going away, and measured round trips.
//!
//! Run: `cargo test -p angzarr-bus-pubsub --test pubsub`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod conformance;
mod flush;
mod push_auth;
mod push_delivery;
mod resilience;
mod round_trips;
