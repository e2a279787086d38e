//! The SNS/SQS bus against a real moto server.
//!
//! Run: `cargo test -p angzarr-bus-sqs --test moto`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_bus_sqs::message::MAX_BOOK_BYTES;
use angzarr_bus_sqs::setup::{Queue, create_queue, create_topic, subscribe_queue};
use angzarr_bus_sqs::{
    BatchItemFailure, Builder, RequestCounter, SqsBatchResponse, SqsEvent, process_sqs_event,
    process_sqs_event_with,
};
use angzarr_core::guard::firing_key;
use angzarr_core::memory::{MemoryFiringGuard, MemoryPayloadStore};
use angzarr_core::store::page_sequence;
use angzarr_core::{
    Acquisition, AggregateKey, Error, EventBus, FiringGuard, PayloadStore, Subscription,
};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::bus::{BusFixture, book, receive_all};
use angzarr_testkit::suites::sized_event;

const REGION: &str = "us-east-1";

fn builder(endpoint: &str) -> Builder {
    Builder::new()
        .with_endpoint(endpoint)
        .with_region(REGION)
        .with_credentials("testing", "testing")
}

async fn moto_builder() -> Builder {
    builder(&emulators::moto().await.endpoint())
}

/// A topic for `domain` (unique prefix), a queue subscribed to it, and the
/// builder pointed at both.
struct Wiring {
    builder: Builder,
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    topic_arn: String,
    domain: String,
}

async fn wire(fifo: bool) -> Wiring {
    let base = format!("{}-", emulators::unique_name("evt"));
    let domain = "order".to_owned();
    let (sns, sqs) = moto_builder().await.build_clients().await.unwrap();
    let topic_arn = create_topic(&sns, &format!("{base}{domain}"), fifo)
        .await
        .unwrap();
    let suffix = if fifo { ".fifo" } else { "" };
    let prefix = topic_arn
        .strip_suffix(&format!("{domain}{suffix}"))
        .unwrap()
        .to_owned();
    let builder = moto_builder()
        .await
        .with_topic_arn_prefix(prefix)
        .with_fifo(fifo);
    Wiring {
        builder,
        sns,
        sqs,
        topic_arn,
        domain,
    }
}

impl Wiring {
    async fn queue(&self, fifo: bool, raw: bool, visibility: Duration) -> Queue {
        let queue = create_queue(&self.sqs, &emulators::unique_name("q"), fifo, visibility)
            .await
            .unwrap();
        subscribe_queue(&self.sns, &self.sqs, &self.topic_arn, &queue, raw)
            .await
            .unwrap();
        queue
    }
}

mod event_bus {
    use super::*;

    /// FIFO topic → FIFO queue (raw delivery), visibility timeout 2 s.
    async fn fixture() -> BusFixture {
        let ack_deadline = Duration::from_secs(2);
        let wiring = wire(true).await;
        let queue = wiring.queue(true, true, ack_deadline).await;
        let bus = wiring.builder.clone().build().await.unwrap();
        let subscription = wiring
            .builder
            .clone()
            .with_queue_url(queue.url)
            .build_subscription()
            .await
            .unwrap();
        BusFixture {
            bus: Arc::new(bus) as Arc<dyn EventBus>,
            subscription: Arc::new(subscription) as Arc<dyn Subscription>,
            domain: wiring.domain,
            ack_deadline,
        }
    }

    angzarr_testkit::event_bus_suites!(fixture());
}

/// Receives raw SQS messages and shapes them as the Lambda SQS trigger does.
async fn lambda_event_from(sqs: &aws_sdk_sqs::Client, queue: &Queue, count: usize) -> SqsEvent {
    let mut records = Vec::new();
    for _ in 0..20 {
        if records.len() >= count {
            break;
        }
        let output = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .unwrap();
        for message in output.messages.unwrap_or_default() {
            let attributes: serde_json::Map<String, serde_json::Value> = message
                .message_attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| {
                    (
                        name,
                        serde_json::json!({
                            "stringValue": value.string_value,
                            "dataType": value.data_type,
                            "stringListValues": [],
                            "binaryListValues": []
                        }),
                    )
                })
                .collect();
            let receive_count = message
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .cloned()
                .unwrap();
            records.push(serde_json::json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": {"ApproximateReceiveCount": receive_count},
                "messageAttributes": attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION
            }));
        }
    }
    assert_eq!(records.len(), count, "messages arrived in the queue");
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// A standard topic fans out to a raw queue and an enveloped queue; both
/// decode to the same book with the attributes, through the pull consumer
/// and through the Lambda event decoding alike.
#[tokio::test]
async fn fan_out_delivers_to_two_queues_raw_and_enveloped() {
    let wiring = wire(false).await;
    let raw = wiring.queue(false, true, Duration::from_secs(30)).await;
    let enveloped = wiring.queue(false, false, Duration::from_secs(30)).await;
    let envelope_twin = wiring.queue(false, false, Duration::from_secs(30)).await;
    let bus = wiring.builder.clone().build().await.unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let published = book(&key, 0, "corr-fan");
    bus.publish(&published).await.unwrap();

    for queue in [&raw, &enveloped] {
        let subscription = wiring
            .builder
            .clone()
            .with_queue_url(queue.url.clone())
            .build_subscription()
            .await
            .unwrap();
        let got = receive_all(&subscription, 1, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 1, "{}", queue.url);
        assert_eq!(got[0].book, published);
        assert_eq!(got[0].attributes.domain, wiring.domain);
        assert_eq!(got[0].attributes.root_id, key.root.to_string());
        assert_eq!(got[0].attributes.correlation_id, "corr-fan");
        assert_eq!(got[0].attempt, 1);
    }

    // The enveloped body really is SNS's JSON; the Lambda decoding reads it.
    let event = lambda_event_from(&wiring.sqs, &envelope_twin, 1).await;
    assert!(event.records[0].body.as_deref().unwrap().starts_with('{'));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let response = process_sqs_event(event, false, |delivery| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(delivery);
            Ok(())
        }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].book, published);
    assert_eq!(seen[0].attributes.correlation_id, "corr-fan");
}

/// Raw records of a Lambda event carry the attributes in `messageAttributes`.
#[tokio::test]
async fn lambda_event_with_raw_records_decodes() {
    let wiring = wire(false).await;
    let raw = wiring.queue(false, true, Duration::from_secs(30)).await;
    let bus = wiring.builder.clone().build().await.unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    for sequence in 0..3 {
        bus.publish(&book(&key, sequence, "corr-raw"))
            .await
            .unwrap();
    }
    let event = lambda_event_from(&wiring.sqs, &raw, 3).await;
    assert!(!event.records[0].body.as_deref().unwrap().starts_with('{'));
    assert_eq!(
        event.records[0].message_attributes["root_id"]
            .string_value
            .as_deref(),
        Some(key.root.to_string().as_str())
    );
    let count = AtomicUsize::new(0);
    let response = process_sqs_event(event, false, |delivery| {
        assert_eq!(delivery.attributes.root_id, key.root.to_string());
        assert_eq!(delivery.attributes.correlation_id, "corr-raw");
        count.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn record_ids(event: &SqsEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap())
        .collect()
}

/// Does what Lambda does with a batch answer: deletes the records that
/// succeeded and (sooner than the visibility timeout would) makes the failed
/// ones visible again.
async fn settle_like_lambda(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
    event: &SqsEvent,
    response: &SqsBatchResponse,
) {
    let failed = failed_ids(response);
    for record in &event.records {
        let receipt = record.receipt_handle.clone().unwrap();
        if failed.contains(record.message_id.as_ref().unwrap()) {
            sqs.change_message_visibility()
                .queue_url(&queue.url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        } else {
            sqs.delete_message()
                .queue_url(&queue.url)
                .receipt_handle(receipt)
                .send()
                .await
                .unwrap();
        }
    }
}

/// FIFO topic → FIFO queue: a batch whose middle record fails reports that
/// record and every later one, and the later ones are not even tried; once
/// Lambda settles the batch, the next batch starts at the failed record, so
/// the aggregate's order holds. A standard queue tries every record.
#[tokio::test]
async fn fifo_batch_stops_at_the_failing_middle_record() {
    let wiring = wire(true).await;
    let queue = wiring.queue(true, true, Duration::from_secs(30)).await;
    let bus = wiring.builder.clone().build().await.unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    for sequence in 0..5 {
        bus.publish(&book(&key, sequence, "fifo")).await.unwrap();
    }
    let event = lambda_event_from(&wiring.sqs, &queue, 5).await;
    let ids = record_ids(&event);
    let tried = std::sync::Mutex::new(Vec::new());
    let failing_at = |bad: u32| {
        let tried = &tried;
        move |delivery: angzarr_core::Delivery| {
            let sequence = page_sequence(&delivery.book.pages[0]).unwrap();
            tried.lock().unwrap().push(sequence);
            async move {
                if sequence == bad {
                    Err(Error::backend("test", "handler failed", true))
                } else {
                    Ok(())
                }
            }
        }
    };

    // The same records handed over as a standard queue's trigger would
    // (no `.fifo` source ARN, `fifo` false): all tried.
    let mut as_standard = event.clone();
    for record in &mut as_standard.records {
        record.event_source_arn = None;
    }
    let response = process_sqs_event(as_standard, false, failing_at(2)).await;
    assert_eq!(failed_ids(&response), [ids[2].clone()]);
    assert_eq!(*tried.lock().unwrap(), [0, 1, 2, 3, 4]);

    // From the FIFO queue: detected by its `.fifo` source ARN even with `fifo` false.
    tried.lock().unwrap().clear();
    let response = process_sqs_event(event.clone(), false, failing_at(2)).await;
    assert_eq!(failed_ids(&response), ids[2..].to_vec());
    assert_eq!(*tried.lock().unwrap(), [0, 1, 2], "FIFO arrives in order");
    settle_like_lambda(&wiring.sqs, &queue, &event, &response).await;

    // The redelivery starts at the failed record.
    let again = lambda_event_from(&wiring.sqs, &queue, 3).await;
    assert_eq!(record_ids(&again), ids[2..].to_vec());
    assert_eq!(
        again.records[0].attributes["ApproximateReceiveCount"], "2",
        "a second delivery"
    );
    tried.lock().unwrap().clear();
    let response = process_sqs_event(again, true, failing_at(99)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(*tried.lock().unwrap(), [2, 3, 4]);
}

/// A record that is not an event book (sent to the queue directly, beside
/// books published through SNS) fails alone; the rest are processed.
#[tokio::test]
async fn malformed_record_fails_alone() {
    let wiring = wire(false).await;
    let queue = wiring.queue(false, true, Duration::from_secs(30)).await;
    let bus = wiring.builder.clone().build().await.unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    bus.publish(&book(&key, 0, "m")).await.unwrap();
    let garbage = wiring
        .sqs
        .send_message()
        .queue_url(&queue.url)
        .message_body("not an event book %%%")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    bus.publish(&book(&key, 1, "m")).await.unwrap();
    bus.publish(&book(&key, 2, "m")).await.unwrap();

    let event = lambda_event_from(&wiring.sqs, &queue, 4).await;
    let handled = AtomicUsize::new(0);
    let response = process_sqs_event(event, false, |_| {
        handled.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
    .await;
    assert_eq!(failed_ids(&response), vec![garbage.clone()]);
    assert_eq!(handled.load(Ordering::SeqCst), 3);
    // The answer serialises as Lambda expects it.
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], garbage);
}

/// The same SQS batch delivered twice (Lambda ran it, but the records came
/// back: here made visible again at once) has one effect through the firing
/// guard.
#[tokio::test]
async fn duplicate_batch_has_one_effect_through_the_firing_guard() {
    let wiring = wire(false).await;
    let queue = wiring.queue(false, true, Duration::from_secs(30)).await;
    let bus = wiring.builder.clone().build().await.unwrap();
    for _ in 0..3 {
        let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
        bus.publish(&book(&key, 0, "dup")).await.unwrap();
    }
    let guard = MemoryFiringGuard::new();
    let effects = AtomicUsize::new(0);
    let handler = |delivery: angzarr_core::Delivery| {
        let guard = &guard;
        let effects = &effects;
        async move {
            let key = firing_key("projector-test", &delivery.book)?;
            match guard.acquire(&key, Duration::from_secs(30)).await? {
                Acquisition::Acquired(lease) => {
                    effects.fetch_add(1, Ordering::SeqCst);
                    guard.complete(&lease, Duration::from_secs(3600)).await
                }
                Acquisition::Completed => Ok(()),
                Acquisition::InProgress { .. } => Err(Error::backend("test", "in progress", true)),
            }
        }
    };

    let first = lambda_event_from(&wiring.sqs, &queue, 3).await;
    let response = process_sqs_event(first.clone(), false, handler).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(effects.load(Ordering::SeqCst), 3);
    // Not deleted: the batch comes back.
    let mut everything_failed = SqsBatchResponse::default();
    everything_failed.batch_item_failures = failed_ids_as_failures(&record_ids(&first));
    settle_like_lambda(&wiring.sqs, &queue, &first, &everything_failed).await;

    let second = lambda_event_from(&wiring.sqs, &queue, 3).await;
    let mut before = record_ids(&first);
    let mut after = record_ids(&second);
    before.sort();
    after.sort();
    assert_eq!(before, after, "the same messages, delivered again");
    assert!(
        second
            .records
            .iter()
            .all(|r| r.attributes["ApproximateReceiveCount"] == "2")
    );
    let response = process_sqs_event(second, false, handler).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(effects.load(Ordering::SeqCst), 3, "no second effect");
}

fn failed_ids_as_failures(ids: &[String]) -> Vec<BatchItemFailure> {
    ids.iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.clone();
            failure
        })
        .collect()
}

/// A 300 KiB book goes out through the payload store and comes back whole,
/// through the pull consumer and through the Lambda decoding.
#[tokio::test]
async fn oversized_book_is_offloaded_and_restored() {
    let store: Arc<dyn PayloadStore> = Arc::new(MemoryPayloadStore::new());
    let wiring = wire(false).await;
    let queue = wiring.queue(false, true, Duration::from_secs(30)).await;
    let twin = wiring.queue(false, false, Duration::from_secs(30)).await;
    let bus = wiring
        .builder
        .clone()
        .with_payload_store(store.clone())
        .build()
        .await
        .unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let mut big = book(&key, 0, "big");
    big.pages = vec![sized_event("big", 300 * 1024)];
    assert!(prost::Message::encoded_len(&big) > MAX_BOOK_BYTES);
    assert!(bus.offloads(), "so the pipeline lets a large book through");
    angzarr_core::bus::check_fits(&bus, &big).unwrap();
    bus.publish(&big).await.unwrap();

    let subscription = wiring
        .builder
        .clone()
        .with_payload_store(store.clone())
        .with_queue_url(queue.url.clone())
        .build_subscription()
        .await
        .unwrap();
    let got = receive_all(&subscription, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].book.pages, big.pages);

    let event = lambda_event_from(&wiring.sqs, &twin, 1).await;
    let restored = std::sync::Mutex::new(None);
    let response = process_sqs_event_with(event, false, Some(&*store), |delivery| {
        *restored.lock().unwrap() = Some(delivery.book);
        async { Ok(()) }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(restored.lock().unwrap().as_ref().unwrap().pages, big.pages);
}

/// A pull consumer that cannot fetch an offloaded payload hands nothing out
/// and says why; the message stays in the queue and is received whole once
/// the payload can be fetched.
#[tokio::test]
async fn unresolvable_payload_leaves_the_message_in_the_queue() {
    let store: Arc<dyn PayloadStore> = Arc::new(MemoryPayloadStore::new());
    let wiring = wire(false).await;
    let queue = wiring.queue(false, true, Duration::from_secs(1)).await;
    let bus = wiring
        .builder
        .clone()
        .with_payload_store(store.clone())
        .build()
        .await
        .unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let mut big = book(&key, 0, "big");
    big.pages = vec![sized_event("big", 300 * 1024)];
    bus.publish(&big).await.unwrap();

    let consumer = |store: Arc<dyn PayloadStore>| {
        wiring
            .builder
            .clone()
            .with_payload_store(store)
            .with_queue_url(queue.url.clone())
            .build_subscription()
    };
    let wrong_store = consumer(Arc::new(MemoryPayloadStore::new())).await.unwrap();
    let mut outcome = None;
    for _ in 0..15 {
        match wrong_store.receive(10, Duration::from_secs(1)).await {
            Err(err) => {
                outcome = Some(err);
                break;
            }
            Ok(got) => assert!(got.is_empty(), "nothing unresolved is handed out"),
        }
    }
    let err = outcome.expect("the message arrived and could not be resolved");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let right_store = consumer(store).await.unwrap();
    let got = receive_all(&right_store, 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].book.pages, big.pages);
    assert!(got[0].attempt >= 2, "the same message, received again");
}

/// Without a payload store, a book over the limit is refused before any request.
#[tokio::test]
async fn oversized_book_without_payload_store_is_limit_exceeded() {
    let counter = RequestCounter::new();
    let wiring = wire(false).await;
    let bus = wiring
        .builder
        .clone()
        .with_request_counter(counter.clone())
        .build()
        .await
        .unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let mut big = book(&key, 0, "big");
    big.pages = vec![sized_event("big", 300 * 1024)];
    let err = bus.publish(&big).await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    assert_eq!(counter.get(), 0);
}

/// One request per publish, receive, ack and nack.
#[tokio::test]
async fn round_trips_per_operation() {
    let counter = RequestCounter::new();
    let wiring = wire(true).await;
    let queue = wiring.queue(true, true, Duration::from_secs(30)).await;
    let counted = wiring.builder.clone().with_request_counter(counter.clone());
    let bus = counted.clone().build().await.unwrap();
    let subscription = counted
        .with_queue_url(queue.url)
        .build_subscription()
        .await
        .unwrap();
    let key = AggregateKey::new(wiring.domain.clone(), uuid::Uuid::new_v4()).unwrap();

    counter.reset();
    bus.publish(&book(&key, 0, "rt")).await.unwrap();
    assert_eq!(counter.get(), 1, "publish");

    counter.reset();
    let got = subscription
        .receive(10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(counter.get(), 1, "receive");

    counter.reset();
    subscription.nack(&got[0].ack_id).await.unwrap();
    assert_eq!(counter.get(), 1, "nack");

    let again = subscription
        .receive(10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    counter.reset();
    subscription.ack(&again[0].ack_id).await.unwrap();
    assert_eq!(counter.get(), 1, "ack");
}

/// moto stopped mid-test: publish, receive, ack and nack that worked a
/// moment before fail with retriable errors.
#[tokio::test]
async fn moto_stopped_mid_test_is_a_retriable_error() {
    let mut moto = emulators::start_private(Kind::Moto).await;
    let configured = builder(&moto.endpoint())
        .with_timeouts(Duration::from_millis(500), Duration::from_secs(2))
        .with_max_attempts(1);
    let (sns, sqs) = configured.clone().build_clients().await.unwrap();
    let topic_arn = create_topic(&sns, "down-order", false).await.unwrap();
    let queue = create_queue(&sqs, "down", false, Duration::from_secs(30))
        .await
        .unwrap();
    subscribe_queue(&sns, &sqs, &topic_arn, &queue, true)
        .await
        .unwrap();
    let prefix = topic_arn.strip_suffix("order").unwrap().to_owned();
    let bus = configured
        .clone()
        .with_topic_arn_prefix(prefix)
        .build()
        .await
        .unwrap();
    let subscription = configured
        .with_queue_url(queue.url)
        .build_subscription()
        .await
        .unwrap();
    let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
    bus.publish(&book(&key, 0, "up")).await.unwrap();
    bus.publish(&book(&key, 1, "up")).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..10 {
        if held.len() >= 2 {
            break;
        }
        held.extend(
            subscription
                .receive(10, Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    assert_eq!(held.len(), 2, "works while moto runs");
    subscription.ack(&held[0].ack_id).await.unwrap();
    let held = &held[1..];

    moto.stop();
    let err = bus.publish(&book(&key, 2, "down")).await.unwrap_err();
    assert!(err.is_retriable(), "publish: {err:?}");
    let err = subscription
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "receive: {err:?}");
    let err = subscription.ack(&held[0].ack_id).await.unwrap_err();
    assert!(err.is_retriable(), "ack: {err:?}");
    let err = subscription.nack(&held[0].ack_id).await.unwrap_err();
    assert!(err.is_retriable(), "nack: {err:?}");
}

/// `build()` names the key that is wrong.
#[tokio::test]
async fn build_names_the_wrong_key() {
    let no_region = Builder::new()
        .with_topic_arn_prefix("arn:aws:sns:us-east-1:1:x-")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&no_region, Error::Config { key, .. } if key == "messaging.aws_sqs.region"),
        "{no_region:?}"
    );
    let bad_prefix = Builder::new()
        .with_region(REGION)
        .with_topic_arn_prefix("angzarr-events-")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&bad_prefix, Error::Config { key, .. } if key == "messaging.aws_sqs.topic_arn_prefix"),
        "{bad_prefix:?}"
    );
    let no_queue = Builder::new()
        .with_region(REGION)
        .build_subscription()
        .await
        .unwrap_err();
    assert!(
        matches!(&no_queue, Error::Config { key, .. } if key == "messaging.aws_sqs.queue_url"),
        "{no_queue:?}"
    );
}

/// A topic that does not exist is a service error that retrying cannot fix.
#[tokio::test]
async fn missing_topic_is_not_retriable() {
    let bus = moto_builder()
        .await
        .with_topic_arn_prefix(format!(
            "arn:aws:sns:us-east-1:123456789012:{}-",
            emulators::unique_name("none")
        ))
        .build()
        .await
        .unwrap();
    let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
    let err = bus.publish(&book(&key, 0, "x")).await.unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(!err.is_retriable(), "{err:?}");
}
