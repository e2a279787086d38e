//! Every applicable conformance suite of `angzarr-testkit` against the real
//! Bigtable emulator (`cbtemulator`), each test with tables of its own.
//!
//! Run: `cargo test -p angzarr-store-bigtable --test conformance`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use angzarr_core::{EventStore, FiringGuard, RateLimiter, SnapshotStore};

mod event_store {
    use super::*;
    angzarr_testkit::event_store_suites!(async {
        Arc::new(common::backend().await.event_store()) as Arc<dyn EventStore>
    });
}

mod snapshot_store {
    use super::*;
    angzarr_testkit::snapshot_store_suites!(async {
        Arc::new(common::backend().await.snapshot_store()) as Arc<dyn SnapshotStore>
    });
}

mod firing_guard {
    use super::*;
    angzarr_testkit::firing_guard_suites!(async {
        Arc::new(common::backend().await.firing_guard()) as Arc<dyn FiringGuard>
    });
}

mod rate_limiter {
    use super::*;
    angzarr_testkit::rate_limiter_suites!(async {
        Arc::new(common::backend().await.rate_limiter()) as Arc<dyn RateLimiter>
    });
}
