//! The memory backends (the embedded default) against every conformance suite.
//!
//! Run: `cargo test -p angzarr-testkit --test memory`

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::memory::{
    MemoryBus, MemoryEventStore, MemoryFiringGuard, MemoryPayloadStore, MemoryRateLimiter,
    MemorySnapshotStore,
};
use angzarr_core::{
    EventBus, EventStore, FiringGuard, PayloadStore, RateLimiter, SnapshotStore, Subscription,
};
use angzarr_testkit::suites::bus::BusFixture;

mod event_store {
    use super::*;
    angzarr_testkit::event_store_suites!(async {
        Arc::new(MemoryEventStore::new()) as Arc<dyn EventStore>
    });
}

mod event_store_with_dynamodb_limits {
    //! The same store with a cloud backend's tight limits, so the limit
    //! suites exercise both edges.
    use super::*;
    use angzarr_core::StoreLimits;
    angzarr_testkit::event_store_suites!(async {
        Arc::new(MemoryEventStore::with_limits(StoreLimits {
            max_events_per_append: 100,
            max_event_bytes: 400 * 1024,
        })) as Arc<dyn EventStore>
    });
}

mod snapshot_store {
    use super::*;
    angzarr_testkit::snapshot_store_suites!(async {
        Arc::new(MemorySnapshotStore::new()) as Arc<dyn SnapshotStore>
    });
}

mod event_bus {
    use super::*;

    async fn fixture() -> BusFixture {
        let bus = MemoryBus::new();
        let domain = "order".to_owned();
        let ack_deadline = Duration::from_secs(1);
        let subscription =
            bus.subscribe_with("conformance", Some(&[domain.as_str()]), ack_deadline);
        BusFixture {
            bus: Arc::new(bus) as Arc<dyn EventBus>,
            subscription: Arc::new(subscription) as Arc<dyn Subscription>,
            domain,
            ack_deadline,
        }
    }

    angzarr_testkit::event_bus_suites!(fixture());
}

mod firing_guard {
    use super::*;
    angzarr_testkit::firing_guard_suites!(async {
        Arc::new(MemoryFiringGuard::new()) as Arc<dyn FiringGuard>
    });
}

mod rate_limiter {
    use super::*;
    angzarr_testkit::rate_limiter_suites!(async {
        Arc::new(MemoryRateLimiter::new()) as Arc<dyn RateLimiter>
    });
}

mod payload_store {
    use super::*;
    angzarr_testkit::payload_store_suites!(async {
        Arc::new(MemoryPayloadStore::new()) as Arc<dyn PayloadStore>
    });
}

mod memory_bus_specifics {
    use super::*;
    use angzarr_testkit::suites::bus::{book, receive_all};

    /// A subscription filtered to one domain gets nothing of another, and two
    /// subscriptions each get every book.
    #[tokio::test]
    async fn subscriptions_filter_by_domain_and_fan_out() {
        let bus = MemoryBus::new();
        let orders = bus.subscribe_with("orders", Some(&["order"]), Duration::from_secs(30));
        let everything = bus.subscribe("everything");
        let order = angzarr_core::AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        let cart = angzarr_core::AggregateKey::new("cart", uuid::Uuid::new_v4()).unwrap();
        bus.publish(&book(&order, 0, "c1")).await.unwrap();
        bus.publish(&book(&cart, 0, "c2")).await.unwrap();
        let got = receive_all(&orders, 2, Duration::from_millis(500)).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].attributes.domain, "order");
        assert_eq!(
            receive_all(&everything, 2, Duration::from_secs(5))
                .await
                .len(),
            2
        );
    }

    /// While one book of an aggregate is in flight, the next waits for it, so
    /// competing consumers cannot reorder an aggregate's books.
    #[tokio::test]
    async fn an_aggregates_next_book_waits_for_the_one_in_flight() {
        let bus = MemoryBus::new();
        let sub = bus.subscribe("ordered");
        let key = angzarr_core::AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        bus.publish(&book(&key, 0, "c")).await.unwrap();
        let first = sub.receive(1, Duration::from_secs(1)).await.unwrap();
        assert_eq!(first.len(), 1);
        bus.publish(&book(&key, 1, "c")).await.unwrap();
        assert!(
            sub.receive(1, Duration::from_millis(200))
                .await
                .unwrap()
                .is_empty()
        );
        sub.ack(&first[0].ack_id).await.unwrap();
        let second = sub.receive(1, Duration::from_secs(1)).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].book.next_sequence, 2);
        assert!(
            sub.ack(&first[0].ack_id).await.is_err(),
            "a second ack is refused"
        );
    }
}
