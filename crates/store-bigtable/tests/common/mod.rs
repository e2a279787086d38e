//! Shared helpers: a backend on the test binary's Bigtable emulator with
//! tables of its own.

#![allow(dead_code)]

use angzarr_store_bigtable::{BigtableBackend, Builder};
use angzarr_testkit::emulators::{self, unique_name};

/// The project and instance every test uses (the emulator accepts any).
pub const PROJECT: &str = "angzarr-test";
/// See [`PROJECT`].
pub const INSTANCE: &str = "angzarr-test";

/// A builder for the emulator at `endpoint` with fresh table names.
pub fn builder(endpoint: &str) -> Builder {
    Builder::new()
        .with_project(PROJECT)
        .with_instance(INSTANCE)
        .with_events_table(unique_name("events"))
        .with_snapshots_table(unique_name("snapshots"))
        .with_guard_table(unique_name("guard"))
        .with_rate_limit_table(unique_name("rate"))
        .with_endpoint(endpoint)
}

/// A backend on the shared emulator, with its tables created.
pub async fn backend() -> BigtableBackend {
    let emulator = emulators::bigtable().await;
    let backend = builder(&emulator.endpoint()).build().await.unwrap();
    backend.create_tables().await.unwrap();
    backend
}
