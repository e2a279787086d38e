//! Requests per operation, counted by a proxy between the client and the
//! emulator (the numbers in the README come from here).

use std::time::Duration;

use angzarr_core::{EventBus, Subscription};
use angzarr_testkit::emulators;
use angzarr_testkit::suites::bus::receive_all;

use crate::support::{
    ACK_DEADLINE, CountingProxy, bus_on, domain_with_pull_subscription, fresh_book,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_costs_one_request() {
    let proxy = CountingProxy::start(emulators::pubsub().await.endpoint()).await;
    let bus = bus_on(&proxy.endpoint()).await;
    assert_eq!(proxy.total(), 0, "building the bus sends no request");
    let (domain, subscription) = domain_with_pull_subscription(&bus, "trips").await;
    proxy.reset();

    const BOOKS: usize = 10;
    for sequence in 0..BOOKS as u32 {
        bus.publish(&fresh_book(&domain, sequence)).await.unwrap();
    }
    let publishes = proxy.count("Publish");
    eprintln!("round trips: {BOOKS} publishes -> {publishes} Publish requests");
    assert_eq!(publishes, BOOKS, "one Publish request per book");
    assert_eq!(proxy.total(), BOOKS, "and nothing else");

    let subscriber = bus.subscriber(&subscription, ACK_DEADLINE);
    proxy.reset();
    let mut deliveries = Vec::new();
    while deliveries.len() < BOOKS {
        deliveries.extend(
            subscriber
                .receive(BOOKS, Duration::from_secs(5))
                .await
                .unwrap(),
        );
    }
    let streams = proxy.count("StreamingPull");
    eprintln!("round trips: receiving {BOOKS} books -> {streams} StreamingPull stream(s)");
    assert_eq!(streams, 1, "one long-lived stream carries every delivery");

    proxy.reset();
    for delivery in &deliveries[1..] {
        subscriber.ack(&delivery.ack_id).await.unwrap();
    }
    subscriber.nack(&deliveries[0].ack_id).await.unwrap();
    let acks = proxy.count("Acknowledge");
    let nacks = proxy.count("ModifyAckDeadline");
    eprintln!(
        "round trips: {} acks -> {acks} Acknowledge, 1 nack -> {nacks} ModifyAckDeadline",
        BOOKS - 1
    );
    assert_eq!(acks, BOOKS - 1);
    assert_eq!(nacks, 1);

    let again = receive_all(&subscriber, 1, Duration::from_secs(30)).await;
    assert_eq!(again[0].message_id, deliveries[0].message_id);
    subscriber.close().await;
}
