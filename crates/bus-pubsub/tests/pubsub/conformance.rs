//! Every event-bus conformance suite on an ordered pull subscription, and
//! the claim check for books over the message limit.

use std::sync::Arc;
use std::time::Duration;

use angzarr_bus_pubsub::PubSubBuilder;
use angzarr_core::memory::MemoryPayloadStore;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::{EventBus, PayloadStore, Subscription};
use angzarr_testkit::emulators;
use angzarr_testkit::suites::bus::{BusFixture, receive_all};
use angzarr_testkit::suites::sized_event;

use crate::support::{
    ACK_DEADLINE, PROJECT, domain_with_pull_subscription, fresh_book, shared_bus,
};

async fn fixture() -> BusFixture {
    let bus = shared_bus().await;
    let (domain, subscription) = domain_with_pull_subscription(&bus, "order").await;
    BusFixture {
        subscription: Arc::new(bus.subscriber(&subscription, ACK_DEADLINE))
            as Arc<dyn Subscription>,
        bus: Arc::new(bus) as Arc<dyn EventBus>,
        domain,
        ack_deadline: ACK_DEADLINE,
    }
}

mod suites {
    use super::*;
    angzarr_testkit::event_bus_suites!(fixture());
}

/// A book over the limit goes out with its pages offloaded, and comes back
/// whole through a subscriber that knows the payload store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_book_is_offloaded_and_resolved() {
    let store: Arc<dyn PayloadStore> = Arc::new(MemoryPayloadStore::new());
    let bus = PubSubBuilder::new()
        .with_project(PROJECT)
        .with_endpoint(emulators::pubsub().await.endpoint())
        .with_max_message_bytes(4096)
        .with_payload_store(store.clone())
        .build()
        .await
        .unwrap();
    let (domain, subscription) = domain_with_pull_subscription(&bus, "big").await;
    // A second subscription sees what travelled, without the payload store.
    let raw_subscription = emulators::unique_name("big-raw");
    bus.admin()
        .create_pull_subscription(
            &raw_subscription,
            &bus.topic_id(&domain).unwrap(),
            ACK_DEADLINE,
            None,
        )
        .await
        .unwrap();
    let mut book = fresh_book(&domain, 0);
    book.pages = vec![sized_event("large", 64 * 1024)];
    bus.publish(&book).await.unwrap();

    let subscriber = bus.subscriber(&subscription, ACK_DEADLINE);
    let received = receive_all(&subscriber, 1, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].book, book,
        "the subscriber resolves the claim check"
    );

    let raw = shared_bus()
        .await
        .subscriber(&raw_subscription, ACK_DEADLINE);
    let travelled = receive_all(&raw, 1, Duration::from_secs(30)).await;
    assert_eq!(travelled.len(), 1);
    assert!(
        matches!(
            travelled[0].book.pages[0].payload,
            Some(Payload::External(_))
        ),
        "a reference travelled, not the payload"
    );
    subscriber.close().await;
    raw.close().await;
}
