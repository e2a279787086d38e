//! The Kinesis bus against a real moto server.
//!
//! The bus conformance suites run through [`KinesisSubscription`]; the
//! reader, the checkpoints and the Lambda decoding are tested beside them.
//!
//! Run: `cargo test -p angzarr-bus-kinesis --test moto`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_bus_kinesis::setup::create_stream;
use angzarr_bus_kinesis::{
    Builder, Checkpoint, KinesisEvent, KinesisReader, KinesisSubscription, MAX_BOOK_BYTES,
    ReadRecord, RequestCounter, process_kinesis_event, process_kinesis_event_with,
};
use angzarr_core::memory::MemoryPayloadStore;
use angzarr_core::proto::EventBook;
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, EventBus, PayloadStore, Subscription};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::bus::{BusFixture, book, receive_all};
use angzarr_testkit::suites::sized_event;
use base64::Engine;

fn builder(endpoint: &str) -> Builder {
    Builder::new()
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_credentials("testing", "testing")
}

/// A unique stream prefix with the stream of `order` created (`shards` shards).
async fn stream(shards: u32) -> (Builder, String) {
    let prefix = format!("{}-", emulators::unique_name("ks"));
    let configured = builder(&emulators::moto().await.endpoint()).with_stream_prefix(&prefix);
    let client = configured.clone().build_client().await.unwrap();
    create_stream(&client, &format!("{prefix}order"), shards)
        .await
        .unwrap();
    (configured, "order".to_owned())
}

mod event_bus {
    use super::*;

    /// A fresh 2-shard stream read through a `KinesisSubscription` with a
    /// 2 s ack deadline.
    async fn fixture() -> BusFixture {
        let ack_deadline = Duration::from_secs(2);
        let (configured, domain) = stream(2).await;
        let bus = configured.clone().build().await.unwrap();
        let reader = configured.build_reader(&domain).await.unwrap();
        BusFixture {
            bus: Arc::new(bus) as Arc<dyn EventBus>,
            subscription: Arc::new(KinesisSubscription::new(reader, ack_deadline))
                as Arc<dyn Subscription>,
            domain,
            ack_deadline,
        }
    }

    angzarr_testkit::event_bus_suites!(fixture());
}

/// The subscription's checkpoints move over acknowledged records only, and a
/// new subscription started from them continues after them.
#[tokio::test]
async fn subscription_checkpoints_cover_acknowledged_records() {
    let (configured, domain) = stream(1).await;
    let bus = configured.clone().build().await.unwrap();
    let first_key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let second_key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    bus.publish(&book(&first_key, 0, "a")).await.unwrap();
    bus.publish(&book(&second_key, 0, "b")).await.unwrap();
    bus.publish(&book(&first_key, 1, "a")).await.unwrap();

    let reader = configured.clone().build_reader(&domain).await.unwrap();
    let subscription = KinesisSubscription::new(reader, Duration::from_secs(30));
    let got = subscription
        .receive(10, Duration::from_secs(5))
        .await
        .unwrap();
    // first_key#1 waits behind the unacknowledged first_key#0.
    assert_eq!(got.len(), 2);
    subscription.ack(&got[1].ack_id).await.unwrap();
    let before = subscription.checkpoints().await;
    assert_eq!(
        before[0].sequence_number, None,
        "the first record is not acknowledged yet"
    );
    subscription.ack(&got[0].ack_id).await.unwrap();
    assert!(
        subscription.ack(&got[0].ack_id).await.is_err(),
        "a second ack is refused"
    );
    let after = subscription.checkpoints().await;
    assert_eq!(
        after[0].sequence_number.as_deref(),
        Some(got[1].ack_id.split('/').nth(1).unwrap())
    );

    let resumed = KinesisSubscription::new(
        configured.build_reader(&domain).await.unwrap(),
        Duration::from_secs(30),
    )
    .starting_at(after);
    let rest = receive_all(&resumed, 1, Duration::from_secs(5)).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].book, book(&first_key, 1, "a"));
}

/// Reads every shard from its start until `count` records arrived.
async fn read_all(reader: &KinesisReader, count: usize) -> Vec<ReadRecord> {
    let mut checkpoints: Vec<_> = reader
        .shards()
        .await
        .unwrap()
        .into_iter()
        .map(Checkpoint::start)
        .collect();
    let mut records = Vec::new();
    for _ in 0..50 {
        for checkpoint in &mut checkpoints {
            let batch = reader.read(checkpoint, 100).await.unwrap();
            *checkpoint = batch.checkpoint;
            records.extend(batch.records);
        }
        if records.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    records
}

/// 5 aggregates × 10 books, interleaved, over 2 shards: every book arrives
/// once, in order per aggregate, with the attributes of its cover.
#[tokio::test]
async fn order_per_aggregate_with_attributes() {
    let (configured, domain) = stream(2).await;
    let bus = configured.clone().build().await.unwrap();
    let keys: Vec<_> = (0..5)
        .map(|_| AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap())
        .collect();
    for sequence in 0..10 {
        for key in &keys {
            bus.publish(&book(key, sequence, &format!("c-{}-{sequence}", key.root)))
                .await
                .unwrap();
        }
    }
    let reader = configured.build_reader(&domain).await.unwrap();
    let records = read_all(&reader, 50).await;
    assert_eq!(records.len(), 50);
    let mut per_root: HashMap<String, Vec<u32>> = HashMap::new();
    for record in &records {
        let delivery = &record.delivery;
        let sequence = page_sequence(&delivery.book.pages[0]).unwrap();
        let root = AggregateKey::from_book(&delivery.book)
            .unwrap()
            .root
            .to_string();
        assert_eq!(delivery.attributes.domain, domain);
        assert_eq!(delivery.attributes.root_id, root);
        assert_eq!(
            delivery.attributes.correlation_id,
            format!("c-{root}-{sequence}")
        );
        per_root.entry(root).or_default().push(sequence);
    }
    assert_eq!(per_root.len(), 5);
    for sequences in per_root.values() {
        assert_eq!(*sequences, (0..10).collect::<Vec<_>>());
    }
}

/// A reader resumed from a checkpoint continues after it, nothing repeated.
#[tokio::test]
async fn reader_resumes_from_a_checkpoint() {
    let (configured, domain) = stream(1).await;
    let bus = configured.clone().build().await.unwrap();
    let key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    for sequence in 0..6 {
        bus.publish(&book(&key, sequence, "c")).await.unwrap();
    }
    let reader = configured.clone().build_reader(&domain).await.unwrap();
    let shard = reader.shards().await.unwrap().remove(0);
    let first = reader.read(&Checkpoint::start(&shard), 4).await.unwrap();
    assert_eq!(first.records.len(), 4);
    assert_eq!(first.checkpoint, first.records[3].checkpoint);

    // A new reader (another process) resumes from the stored checkpoint.
    let resumed = configured.build_reader(&domain).await.unwrap();
    let rest = resumed.read(&first.checkpoint, 100).await.unwrap();
    let sequences: Vec<_> = rest
        .records
        .iter()
        .map(|r| page_sequence(&r.delivery.book.pages[0]).unwrap())
        .collect();
    assert_eq!(sequences, [4, 5]);
    let nothing = resumed.read(&rest.checkpoint, 100).await.unwrap();
    assert!(nothing.records.is_empty());
    assert_eq!(nothing.checkpoint, rest.checkpoint);
}

/// Shapes records read from moto as the Lambda Kinesis trigger does.
fn lambda_event(records: &[(String, String, Vec<u8>)]) -> KinesisEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(sequence, partition_key, data)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": sequence,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_700_000_000.5
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/test",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/test"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// The raw records of the stream's one shard: sequence, partition key, data.
async fn raw_records(
    configured: &Builder,
    stream: &str,
    count: usize,
) -> Vec<(String, String, Vec<u8>)> {
    let client = configured.clone().build_client().await.unwrap();
    let shard = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_owned();
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let output = client
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap();
    let records: Vec<_> = output
        .records()
        .iter()
        .map(|r| {
            (
                r.sequence_number().to_owned(),
                r.partition_key().to_owned(),
                r.data().as_ref().to_vec(),
            )
        })
        .collect();
    assert_eq!(records.len(), count);
    records
}

/// A failing middle record is the one failure reported, and nothing after
/// it is handed to the handler.
#[tokio::test]
async fn batch_stops_at_the_first_failure() {
    let (configured, domain) = stream(1).await;
    let bus = configured.clone().build().await.unwrap();
    let key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    for sequence in 0..5 {
        bus.publish(&book(&key, sequence, "c")).await.unwrap();
    }
    let stream_name = bus.stream_name(&domain);
    let records = raw_records(&configured, &stream_name, 5).await;
    assert!(records.iter().all(|(_, pk, _)| *pk == key.root.to_string()));

    let handled = std::sync::Mutex::new(Vec::new());
    let response = process_kinesis_event(lambda_event(&records), |delivery| {
        let sequence = page_sequence(&delivery.book.pages[0]).unwrap();
        handled.lock().unwrap().push(sequence);
        assert_eq!(delivery.attributes.root_id, key.root.to_string());
        async move {
            if sequence == 2 {
                Err(Error::backend("test", "handler failed", true))
            } else {
                Ok(())
            }
        }
    })
    .await;
    assert_eq!(*handled.lock().unwrap(), [0, 1, 2]);
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some(records[2].0.as_str())
    );
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json["batchItemFailures"][0]["itemIdentifier"],
        records[2].0.as_str()
    );

    // A malformed record stops the batch the same way; a clean one reports nothing.
    let mut broken = records.clone();
    broken[1].2 = vec![0xff, 0xff, 0xff];
    let response = process_kinesis_event(lambda_event(&broken), |_| async { Ok(()) }).await;
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some(records[1].0.as_str())
    );
    let all_good = process_kinesis_event(lambda_event(&records), |_| async { Ok(()) }).await;
    assert!(all_good.batch_item_failures.is_empty());
}

/// A 1.5 MiB book goes through the payload store and comes back whole,
/// through the reader and the Lambda decoding; without a store it is refused.
#[tokio::test]
async fn oversized_book_is_offloaded_or_refused() {
    let (configured, domain) = stream(1).await;
    let key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    let mut big: EventBook = book(&key, 0, "big");
    big.pages = vec![sized_event("big", 1536 * 1024)];
    assert!(prost::Message::encoded_len(&big) > MAX_BOOK_BYTES);

    let counter = RequestCounter::new();
    let plain = configured
        .clone()
        .with_request_counter(counter.clone())
        .build()
        .await
        .unwrap();
    let err = plain.publish(&big).await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    // The pipeline refuses it before storing it, for the same reason.
    assert!(!plain.offloads());
    assert!(angzarr_core::bus::check_fits(&plain, &big).is_err());
    assert_eq!(counter.get(), 0, "refused before any request");

    let store: Arc<dyn PayloadStore> = Arc::new(MemoryPayloadStore::new());
    let offloading = configured
        .clone()
        .with_payload_store(store.clone())
        .build()
        .await
        .unwrap();
    assert!(
        offloading.offloads(),
        "so the pipeline lets a large book through"
    );
    offloading.publish(&big).await.unwrap();
    let reader = configured
        .clone()
        .with_payload_store(store.clone())
        .build_reader(&domain)
        .await
        .unwrap();
    let read = read_all(&reader, 1).await;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].delivery.book.pages, big.pages);

    let records = raw_records(&configured, &offloading.stream_name(&domain), 1).await;
    assert!(
        records[0].2.len() < MAX_BOOK_BYTES,
        "the record carries a reference"
    );
    let restored = AtomicUsize::new(0);
    let response = process_kinesis_event_with(lambda_event(&records), Some(&*store), |delivery| {
        assert_eq!(delivery.book.pages, big.pages);
        restored.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(restored.load(Ordering::SeqCst), 1);
}

/// One `PutRecord` per book; a read is `GetShardIterator` + `GetRecords`.
#[tokio::test]
async fn round_trips_per_operation() {
    let (configured, domain) = stream(1).await;
    let counter = RequestCounter::new();
    let counted = configured.with_request_counter(counter.clone());
    let bus = counted.clone().build().await.unwrap();
    let key = AggregateKey::new(domain.clone(), uuid::Uuid::new_v4()).unwrap();
    counter.reset();
    bus.publish(&book(&key, 0, "rt")).await.unwrap();
    assert_eq!(counter.get(), 1, "publish");

    let reader = counted.build_reader(&domain).await.unwrap();
    let shard = reader.shards().await.unwrap().remove(0);
    counter.reset();
    let batch = reader.read(&Checkpoint::start(shard), 10).await.unwrap();
    assert_eq!(batch.records.len(), 1);
    assert_eq!(counter.get(), 2, "read");
}

#[tokio::test]
async fn a_book_without_cover_is_refused() {
    let (configured, _) = stream(1).await;
    let bus = configured.build().await.unwrap();
    let err = bus.publish(&EventBook::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// moto stopped mid-test: publishing and reading that worked a moment
/// before fail with retriable errors.
#[tokio::test]
async fn moto_stopped_mid_test_is_a_retriable_error() {
    let mut moto = emulators::start_private(Kind::Moto).await;
    let configured = builder(&moto.endpoint())
        .with_stream_prefix("down-")
        .with_timeouts(Duration::from_millis(500), Duration::from_secs(2))
        .with_max_attempts(1);
    let client = configured.clone().build_client().await.unwrap();
    create_stream(&client, "down-order", 1).await.unwrap();
    let bus = configured.clone().build().await.unwrap();
    let reader = configured.build_reader("order").await.unwrap();
    let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
    bus.publish(&book(&key, 0, "up")).await.unwrap();
    let shard = reader.shards().await.unwrap().remove(0);
    let read = reader.read(&Checkpoint::start(&shard), 10).await.unwrap();
    assert_eq!(read.records.len(), 1, "works while moto runs");

    moto.stop();
    let err = bus.publish(&book(&key, 1, "down")).await.unwrap_err();
    assert!(err.is_retriable(), "publish: {err:?}");
    let err = reader.read(&read.checkpoint, 10).await.unwrap_err();
    assert!(err.is_retriable(), "read: {err:?}");
    let err = reader.shards().await.unwrap_err();
    assert!(err.is_retriable(), "shards: {err:?}");
}

#[tokio::test]
async fn build_names_the_wrong_key() {
    let no_region = Builder::new().build().await.unwrap_err();
    assert!(
        matches!(&no_region, Error::Config { key, .. } if key == "messaging.aws_kinesis.region"),
        "{no_region:?}"
    );
    let bad_prefix = Builder::new()
        .with_region("us-east-1")
        .with_stream_prefix("events/")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&bad_prefix, Error::Config { key, .. } if key == "messaging.aws_kinesis.stream_prefix"),
        "{bad_prefix:?}"
    );
}

/// A stream that does not exist is a service error that retrying cannot fix.
#[tokio::test]
async fn missing_stream_is_not_retriable() {
    let bus = builder(&emulators::moto().await.endpoint())
        .with_stream_prefix(format!("{}-", emulators::unique_name("none")))
        .build()
        .await
        .unwrap();
    let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
    let err = bus.publish(&book(&key, 0, "x")).await.unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(!err.is_retriable(), "{err:?}");
}
