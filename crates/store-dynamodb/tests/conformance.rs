//! Every conformance suite of the testkit against DynamoDB on moto: the event
//! store (all suites plain; the ones a payload store changes again with
//! offloading to S3), the snapshot store, the firing guard and the rate
//! limiter. Each test gets its own tables.
//!
//! Run: `cargo test -p angzarr-store-dynamodb --test conformance`

mod common;

use std::sync::Arc;

use angzarr_core::{EventStore, FiringGuard, RateLimiter, SnapshotStore};

mod event_store {
    use super::*;
    angzarr_testkit::event_store_suites!(async {
        Arc::new(common::backend().await.event_store()) as Arc<dyn EventStore>
    });
}

mod event_store_offloading_to_s3 {
    //! The suites whose path a payload store changes, with one configured:
    //! the byte limit becomes the offload cap, so the limit suite pushes
    //! multi-MB events through S3. The concurrency suites are left to the
    //! plain store: small events never reach the payload store, so their
    //! path is the same, and moto takes over a minute for the 16 × 100 run.
    use super::*;
    use angzarr_testkit::suites::store as suites;

    async fn store() -> Arc<dyn EventStore> {
        Arc::new(common::offloading_backend().await.0.event_store())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn append_and_load_round_trip() {
        suites::append_and_load_round_trip(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn load_ranges() {
        suites::load_ranges(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn stale_expected_sequence_conflicts() {
        suites::stale_expected_sequence_conflicts(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn multi_event_append_is_all_or_nothing() {
        suites::multi_event_append_is_all_or_nothing(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_never_interleave() {
        suites::concurrent_batches_never_interleave(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn limits_are_reported_and_enforced() {
        suites::limits_are_reported_and_enforced(store().await).await;
    }
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
