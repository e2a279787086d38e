//! The emulator going away mid-test: every call fails with a retriable
//! error, and the same bus works again once the emulator is back.

use std::time::Duration;

use angzarr_bus_pubsub::{PubSubBuilder, PubSubBus};
use angzarr_core::{EventBus, Subscription};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::bus::receive_all;

use crate::support::{ACK_DEADLINE, PROJECT, domain_with_pull_subscription, fresh_book};

async fn impatient_bus(endpoint: &str) -> angzarr_core::Result<PubSubBus> {
    PubSubBuilder::new()
        .with_project(PROJECT)
        .with_endpoint(endpoint)
        .with_connect_timeout(Duration::from_secs(1))
        .with_request_timeout(Duration::from_secs(3))
        .with_retries(1)
        .build()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_stopped_mid_test_gives_retriable_errors() {
    let mut emulator = emulators::start_private(Kind::PubSub).await;
    let endpoint = emulator.endpoint();
    let bus = impatient_bus(&endpoint).await.unwrap();
    let (domain, subscription) = domain_with_pull_subscription(&bus, "down").await;
    bus.publish(&fresh_book(&domain, 0)).await.unwrap();
    let subscriber = bus.subscriber(&subscription, ACK_DEADLINE);
    let received = receive_all(&subscriber, 1, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 1);
    // Received and acked before the stop; another is received but not acked.
    bus.publish(&fresh_book(&domain, 0)).await.unwrap();
    let pending = loop {
        let mut batch = subscriber.receive(1, Duration::from_secs(5)).await.unwrap();
        if let Some(delivery) = batch.pop() {
            break delivery;
        }
    };

    emulator.stop();

    let err = bus.publish(&fresh_book(&domain, 1)).await.unwrap_err();
    assert!(err.is_retriable(), "publish: {err:?}");
    let err = subscriber.ack(&pending.ack_id).await.unwrap_err();
    assert!(err.is_retriable(), "ack: {err:?}");
    let err = subscriber.nack(&pending.ack_id).await.unwrap_err();
    assert!(err.is_retriable(), "nack: {err:?}");
    let err = subscriber
        .receive(1, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "receive: {err:?}");
    let err = bus.admin().ensure_topic("some-topic").await.unwrap_err();
    assert!(err.is_retriable(), "admin: {err:?}");
    let err = impatient_bus(&endpoint).await.unwrap_err();
    assert!(err.is_retriable(), "connect: {err:?}");

    // Back (empty, as a restarted emulator is): once the topic and the
    // subscription exist again, the same bus publishes and the same
    // subscriber receives through a new stream.
    emulator.restart().await;
    let admin = bus.admin();
    let topic = bus.topic_id(&domain).unwrap();
    admin.ensure_topic(&topic).await.unwrap();
    admin
        .create_pull_subscription(&subscription, &topic, ACK_DEADLINE, None)
        .await
        .unwrap();
    let book = fresh_book(&domain, 0);
    bus.publish(&book).await.unwrap();
    let received = receive_all(&subscriber, 1, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 1, "the subscriber recovers");
    assert_eq!(received[0].book, book);
    subscriber.close().await;
}
