//! [`EventBus`] and [`Subscription`] conformance.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_core::proto::{EventBook, EventPage, PageHeader, page_header::SequenceType};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Delivery, Error, EventBus, MessageAttributes, Subscription};

use super::{event, sized_event};

/// A bus wired to a subscription that receives the books of `domain`.
#[derive(Clone, Debug)]
pub struct BusFixture {
    /// The bus under test.
    pub bus: Arc<dyn EventBus>,
    /// A subscription receiving what `bus` publishes for `domain`, used by this fixture only.
    pub subscription: Arc<dyn Subscription>,
    /// The domain to publish in.
    pub domain: String,
    /// The subscription's ack deadline (visibility timeout).
    pub ack_deadline: Duration,
}

/// A book of one event at `sequence`.
pub fn book(key: &AggregateKey, sequence: u32, correlation_id: &str) -> EventBook {
    let mut page: EventPage = event(&format!("{}:{sequence}", key.root));
    page.header = Some(PageHeader {
        sequence_type: Some(SequenceType::Sequence(sequence)),
    });
    EventBook {
        cover: Some(key.cover(correlation_id)),
        snapshot: None,
        pages: vec![page],
        next_sequence: sequence + 1,
    }
}

/// Receives until `count` deliveries arrived or `within` passed, acknowledging each.
pub async fn receive_all(
    subscription: &dyn Subscription,
    count: usize,
    within: Duration,
) -> Vec<Delivery> {
    let give_up = Instant::now() + within;
    let mut received = Vec::new();
    while received.len() < count && Instant::now() < give_up {
        let batch = subscription
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        for delivery in batch {
            subscription.ack(&delivery.ack_id).await.expect("ack");
            received.push(delivery);
        }
    }
    received
}

/// 100 books for 5 aggregates, published interleaved, arrive once each, in
/// order per aggregate, with the `domain`, `root_id` and `correlation_id`
/// attributes of their cover.
pub async fn publish_delivers_in_order_per_aggregate_with_attributes(fixture: BusFixture) {
    const AGGREGATES: usize = 5;
    const BOOKS: u32 = 20;
    let keys: Vec<_> = (0..AGGREGATES)
        .map(|_| AggregateKey::new(fixture.domain.clone(), uuid::Uuid::new_v4()).unwrap())
        .collect();
    for sequence in 0..BOOKS {
        for key in &keys {
            let correlation = format!("corr-{}-{sequence}", key.root);
            fixture
                .bus
                .publish(&book(key, sequence, &correlation))
                .await
                .unwrap();
        }
    }

    let total = AGGREGATES * BOOKS as usize;
    let received = receive_all(&*fixture.subscription, total, Duration::from_secs(60)).await;
    assert_eq!(received.len(), total, "every book arrives");
    let mut per_root: HashMap<String, Vec<u32>> = HashMap::new();
    let mut ids = HashSet::new();
    for delivery in &received {
        assert!(
            ids.insert(delivery.message_id.clone()),
            "no duplicate deliveries"
        );
        let key = AggregateKey::from_book(&delivery.book).unwrap();
        let sequence = page_sequence(&delivery.book.pages[0]).unwrap();
        assert_eq!(
            delivery.attributes,
            MessageAttributes {
                domain: fixture.domain.clone(),
                root_id: key.root.to_string(),
                correlation_id: format!("corr-{}-{sequence}", key.root),
            }
        );
        per_root
            .entry(key.root.to_string())
            .or_default()
            .push(sequence);
    }
    assert_eq!(per_root.len(), AGGREGATES);
    for (root, sequences) in per_root {
        assert_eq!(sequences, (0..BOOKS).collect::<Vec<_>>(), "order of {root}");
    }
}

/// A book without a cover cannot be published.
pub async fn publish_refuses_a_book_without_cover(fixture: BusFixture) {
    let err = fixture
        .bus
        .publish(&EventBook::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// A book larger than the bus carries is refused with a typed error, never
/// truncated or dropped silently.
pub async fn publish_refuses_an_oversized_book(fixture: BusFixture) {
    let key = AggregateKey::new(fixture.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let mut big = book(&key, 0, "big");
    big.pages = vec![sized_event("big", fixture.bus.max_message_bytes() + 1)];
    let err = fixture.bus.publish(&big).await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    let none = fixture
        .subscription
        .receive(10, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(none.is_empty(), "nothing of a refused book is delivered");
}

/// A delivery handed back with `nack` comes again, as a later attempt.
pub async fn nacked_delivery_is_redelivered(fixture: BusFixture) {
    let key = AggregateKey::new(fixture.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    fixture.bus.publish(&book(&key, 0, "nack")).await.unwrap();
    let first = receive_one(&*fixture.subscription, Duration::from_secs(30)).await;
    fixture.subscription.nack(&first.ack_id).await.unwrap();
    let again = receive_one(&*fixture.subscription, Duration::from_secs(30)).await;
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.book, first.book);
    assert!(again.attempt > first.attempt);
    fixture.subscription.ack(&again.ack_id).await.unwrap();
}

/// A delivery neither acknowledged nor handed back comes again after the ack
/// deadline; an acknowledged one does not.
pub async fn unacked_delivery_is_redelivered_after_the_deadline(fixture: BusFixture) {
    let key = AggregateKey::new(fixture.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    fixture
        .bus
        .publish(&book(&key, 0, "deadline"))
        .await
        .unwrap();
    let first = receive_one(&*fixture.subscription, Duration::from_secs(30)).await;
    let again = receive_one(&*fixture.subscription, fixture.ack_deadline * 3).await;
    assert_eq!(again.message_id, first.message_id);
    fixture.subscription.ack(&again.ack_id).await.unwrap();
    let after_ack = fixture
        .subscription
        .receive(10, fixture.ack_deadline + Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        after_ack.is_empty(),
        "an acknowledged delivery is not redelivered"
    );
}

async fn receive_one(subscription: &dyn Subscription, within: Duration) -> Delivery {
    let give_up = Instant::now() + within;
    loop {
        let mut batch = subscription
            .receive(1, Duration::from_secs(1))
            .await
            .unwrap();
        if let Some(delivery) = batch.pop() {
            return delivery;
        }
        assert!(Instant::now() < give_up, "no delivery within {within:?}");
    }
}
