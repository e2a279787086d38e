//! The trigger and aggregate handlers on the memory backends, fed real
//! Lambda event documents: per-record failures, duplicates, retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_core::memory::MemoryFiringGuard;
use angzarr_core::proto::{CommandRequest, EventBook, Projection};
use angzarr_core::{Error, Result, Subscription};
use angzarr_example_shop::proto::{AddItem, Checkout};
use angzarr_example_shop::{Shop, cart};
use angzarr_lambda::invoke::{AggregateAnswer, AggregateInvocation, handle_invocation};
use angzarr_lambda::{Subscribed, Triggers, handle_event};
use angzarr_runtime::authoring::command;
use angzarr_runtime::{FiringPolicy, MemoryDeadLetters, Projector};
use async_trait::async_trait;
use serde_json::{Value, json};

/// Counts the books it applies; fails while `failing` is set.
#[derive(Debug, Default)]
struct Counting {
    applied: AtomicUsize,
    failing: AtomicBool,
}

#[async_trait]
impl Projector for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    async fn handle(&self, book: EventBook) -> Result<Projection> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::unavailable("read model", "down"));
        }
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(Projection {
            cover: book.cover,
            ..Default::default()
        })
    }
}

/// Books the shop publishes for a cart with one item, checked out.
async fn books() -> Vec<EventBook> {
    let shop = Shop::in_memory();
    let log = shop.bus.subscribe("test");
    let root = uuid::Uuid::new_v4();
    for message in [
        command(
            cart::DOMAIN,
            root,
            "c",
            &AddItem {
                sku: "apple".into(),
                quantity: 2,
                unit_price_cents: 50,
            },
        ),
        command(
            cart::DOMAIN,
            root,
            "c",
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        ),
    ] {
        shop.send(CommandRequest {
            command: Some(message),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    log.receive(10, Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.book)
        .collect()
}

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:projector",
        "awsRegion": "us-east-1"
    })
}

fn sqs_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// A trigger function: its triggers and whether its batches are ordered.
struct Function {
    triggers: Triggers,
    fifo: bool,
}

impl Function {
    fn fifo(self, fifo: bool) -> Self {
        Self { fifo, ..self }
    }

    async fn handle_event(&self, event: Value) -> angzarr_core::Result<Value> {
        handle_event(&self.triggers, self.fifo, event).await
    }
}

fn triggers(projector: Arc<Counting>) -> Function {
    let shop = Shop::in_memory();
    let triggers = Triggers::new(
        Arc::new(MemoryFiringGuard::new()),
        FiringPolicy::default(),
        shop.coordinator.clone(),
        Arc::new(MemoryDeadLetters::new()),
    )
    .projector(Subscribed::new(projector, [cart::DOMAIN]));
    Function {
        triggers,
        fifo: false,
    }
}

#[tokio::test]
async fn a_malformed_record_fails_alone_and_the_rest_is_processed() {
    let books = books().await;
    let projector = Arc::new(Counting::default());
    let triggers = triggers(projector.clone());
    let event = sqs_event(vec![
        sqs_record("m1", &angzarr_bus_sqs::message::encode_body(&books[0])),
        sqs_record("bad", "%%% not base64 %%%"),
        sqs_record("m2", &angzarr_bus_sqs::message::encode_body(&books[1])),
    ]);
    let answer = triggers.handle_event(event).await.unwrap();
    assert_eq!(failures(&answer), vec!["bad".to_owned()]);
    assert_eq!(projector.applied.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn every_record_delivered_twice_has_one_effect() {
    let books = books().await;
    let projector = Arc::new(Counting::default());
    let triggers = triggers(projector.clone());
    let records: Vec<Value> = books
        .iter()
        .enumerate()
        .map(|(i, b)| sqs_record(&format!("m{i}"), &angzarr_bus_sqs::message::encode_body(b)))
        .collect();
    // Twice in one batch, then the whole batch again.
    let doubled: Vec<Value> = records.iter().chain(records.iter()).cloned().collect();
    for _ in 0..2 {
        let answer = triggers
            .handle_event(sqs_event(doubled.clone()))
            .await
            .unwrap();
        assert!(failures(&answer).is_empty(), "{answer}");
    }
    assert_eq!(projector.applied.load(Ordering::SeqCst), books.len());
}

#[tokio::test]
async fn a_handler_failure_is_reported_and_the_retry_does_the_work() {
    let books = books().await;
    let projector = Arc::new(Counting::default());
    let triggers = triggers(projector.clone());
    let event = sqs_event(vec![sqs_record(
        "m1",
        &angzarr_bus_sqs::message::encode_body(&books[0]),
    )]);
    projector.failing.store(true, Ordering::SeqCst);
    let answer = triggers.handle_event(event.clone()).await.unwrap();
    assert_eq!(
        failures(&answer),
        vec!["m1".to_owned()],
        "never acknowledged"
    );
    projector.failing.store(false, Ordering::SeqCst);
    let answer = triggers.handle_event(event).await.unwrap();
    assert!(failures(&answer).is_empty());
    assert_eq!(projector.applied.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_fifo_batch_stops_at_the_first_failure() {
    let books = books().await;
    let projector = Arc::new(Counting::default());
    let triggers = triggers(projector.clone()).fifo(true);
    let event = sqs_event(vec![
        sqs_record("m1", &angzarr_bus_sqs::message::encode_body(&books[0])),
        sqs_record("bad", "%%%"),
        sqs_record("m2", &angzarr_bus_sqs::message::encode_body(&books[1])),
    ]);
    let answer = triggers.handle_event(event).await.unwrap();
    assert_eq!(failures(&answer), vec!["bad".to_owned(), "m2".to_owned()]);
    assert_eq!(projector.applied.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn books_of_other_domains_are_skipped_and_unknown_events_refused() {
    let projector = Arc::new(Counting::default());
    let triggers = triggers(projector.clone());
    let order = angzarr_core::AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
    let book = EventBook {
        cover: Some(order.cover("c")),
        ..Default::default()
    };
    let answer = triggers
        .handle_event(sqs_event(vec![sqs_record(
            "o1",
            &angzarr_bus_sqs::message::encode_body(&book),
        )]))
        .await
        .unwrap();
    assert!(failures(&answer).is_empty());
    assert_eq!(projector.applied.load(Ordering::SeqCst), 0);
    let err = triggers
        .handle_event(json!({"Records": [{"eventSource": "aws:s3"}]}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("aws:s3"), "{err}");
}

#[tokio::test]
async fn the_aggregate_handler_answers_responses_and_errors() {
    let shop = Shop::in_memory();
    let root = uuid::Uuid::new_v4();
    let request = CommandRequest {
        command: Some(command(
            cart::DOMAIN,
            root,
            "c",
            &AddItem {
                sku: "pear".into(),
                quantity: 1,
                unit_price_cents: 80,
            },
        )),
        ..Default::default()
    };
    let payload = serde_json::to_value(AggregateInvocation::of(&request)).unwrap();
    let answer = handle_invocation(&shop.coordinator, payload).await;
    let response = answer.into_result().unwrap();
    assert_eq!(response.events.unwrap().pages.len(), 1);

    let answer: AggregateAnswer =
        handle_invocation(&shop.coordinator, json!({"command_request": "!!"})).await;
    let err = answer.into_result().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    // Checking out an empty cart is refused by the business logic.
    let empty = CommandRequest {
        command: Some(command(
            cart::DOMAIN,
            uuid::Uuid::new_v4(),
            "c",
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
        ..Default::default()
    };
    let payload = serde_json::to_value(AggregateInvocation::of(&empty)).unwrap();
    let err = handle_invocation(&shop.coordinator, payload)
        .await
        .into_result()
        .unwrap_err();
    assert!(!err.is_retriable(), "{err}");
}

/// The same trigger fed Kinesis events (feature `kinesis`; `cargo xtask test`
/// runs `cargo test -p angzarr-lambda --features kinesis --test triggers`).
#[cfg(feature = "kinesis")]
mod kinesis {
    use base64::Engine;
    use prost::Message;

    use super::*;

    fn record(sequence: &str, data: &[u8]) -> Value {
        json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "root",
                "sequenceNumber": sequence,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1_700_000_000.5
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{sequence}"),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/trigger",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/angzarr-events-cart"
        })
    }

    #[tokio::test]
    async fn a_shard_batch_stops_at_the_first_failure_and_duplicates_have_one_effect() {
        let books = books().await;
        let projector = Arc::new(Counting::default());
        let triggers = triggers(projector.clone());
        let good: Vec<Value> = books
            .iter()
            .enumerate()
            .map(|(i, b)| record(&format!("{}", 100 + i), &b.encode_to_vec()))
            .collect();

        // A malformed record in the middle: it and everything after it are
        // left for Lambda to retry from there, keeping the shard's order.
        let event = json!({ "Records": [good[0].clone(), record("150", b"\xff\xff not a book"), good[1].clone()] });
        let answer = triggers.handle_event(event).await.unwrap();
        assert_eq!(failures(&answer), vec!["150".to_owned()]);
        assert_eq!(projector.applied.load(Ordering::SeqCst), 1);

        // The good records again (Lambda's retry), each twice: one effect each.
        let doubled: Vec<Value> = good.iter().chain(good.iter()).cloned().collect();
        let answer = triggers
            .handle_event(json!({ "Records": doubled }))
            .await
            .unwrap();
        assert!(failures(&answer).is_empty(), "{answer}");
        assert_eq!(projector.applied.load(Ordering::SeqCst), books.len());
    }

    #[tokio::test]
    async fn a_handler_failure_is_retried_never_acknowledged() {
        let books = books().await;
        let projector = Arc::new(Counting::default());
        let triggers = triggers(projector.clone());
        let event = json!({ "Records": [record("7", &books[0].encode_to_vec())] });
        projector.failing.store(true, Ordering::SeqCst);
        let answer = triggers.handle_event(event.clone()).await.unwrap();
        assert_eq!(failures(&answer), vec!["7".to_owned()]);
        projector.failing.store(false, Ordering::SeqCst);
        let answer = triggers.handle_event(event).await.unwrap();
        assert!(failures(&answer).is_empty());
        assert_eq!(projector.applied.load(Ordering::SeqCst), 1);
    }
}
