//! Requests per command and per trigger delivery, counted with an SDK
//! interceptor against moto (the pieces the functions run, in process).
//!
//! Run: `cargo test -p angzarr-example-shop-lambda --test round_trips -- --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use angzarr_bus_sqs::RequestCounter;
use angzarr_bus_sqs::setup::create_topic;
use angzarr_core::memory::MemoryBus;
use angzarr_core::proto::CommandRequest;
use angzarr_core::{EventBus, Subscription};
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment};
use angzarr_example_shop::{cart, order};
use angzarr_example_shop_lambda::read_model::{OrderSummaryTable, create_table};
use angzarr_lambda::{Subscribed, Triggers};
use angzarr_runtime::authoring::command;
use angzarr_runtime::{AggregateCoordinator, FiringPolicy, MemoryDeadLetters};
use angzarr_store_dynamodb::{TableNames, create_tables};
use aws_sdk_dynamodb::config::{Credentials, Region};

const REGION: &str = "us-east-1";

#[tokio::test]
async fn requests_per_command_and_per_delivery() {
    let endpoint = angzarr_testkit::emulators::moto().await.endpoint();
    let prefix = angzarr_testkit::emulators::unique_name("rt");
    let dynamo_count = RequestCounter::new();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new("t", "t", None, None, "t"))
            .interceptor(dynamo_count.clone())
            .http_client(angzarr_aws::default_https_client())
            .build(),
    );
    let tables = TableNames::with_prefix(&prefix);
    create_tables(&client, &tables).await.unwrap();
    let read_model_table = format!("{prefix}-summaries");
    create_table(&client, &read_model_table).await.unwrap();
    let dynamodb = angzarr_store_dynamodb::Builder::new()
        .with_tables(tables)
        .with_client(client.clone())
        .build()
        .await
        .unwrap();

    let sns_count = RequestCounter::new();
    let builder = angzarr_bus_sqs::Builder::new()
        .with_endpoint(&endpoint)
        .with_region(REGION)
        .with_credentials("t", "t");
    let (sns, _) = builder.clone().build_clients().await.unwrap();
    let mut arn_prefix = String::new();
    for domain in ["cart", "order", "fulfillment"] {
        let arn = create_topic(&sns, &format!("{prefix}-{domain}"), false)
            .await
            .unwrap();
        arn_prefix = arn.trim_end_matches(domain).to_owned();
    }
    let sns_bus = builder
        .with_topic_arn_prefix(arn_prefix)
        .with_request_counter(sns_count.clone())
        .build()
        .await
        .unwrap();
    // Books are also copied to a memory bus, to feed the trigger below.
    let copy = MemoryBus::new();
    let log = copy.subscribe("log");
    let bus = Arc::new(Tee(Arc::new(sns_bus), copy.clone()));

    let coordinator = Arc::new(
        AggregateCoordinator::builder(Arc::new(dynamodb.event_store()), bus)
            .handler(cart::DOMAIN, Arc::new(cart::logic()))
            .handler(order::DOMAIN, Arc::new(order::logic()))
            .snapshots(Arc::new(dynamodb.snapshot_store()))
            .snapshot_every(100)
            .cache_states(10_000)
            .build(),
    );
    let cart_root = uuid::Uuid::new_v4();
    let order_root = uuid::Uuid::new_v4();
    let add = |sku: &str| CommandRequest {
        command: Some(command(
            cart::DOMAIN,
            cart_root,
            "c",
            &AddItem {
                sku: sku.into(),
                quantity: 1,
                unit_price_cents: 10,
            },
        )),
        ..Default::default()
    };
    let mut counts = Vec::new();
    for (label, request) in [
        ("first command on a new aggregate (cold process)", add("a")),
        ("next command, same aggregate (warm process)", add("b")),
        (
            "checkout (warm)",
            CommandRequest {
                command: Some(command(
                    cart::DOMAIN,
                    cart_root,
                    "c",
                    &Checkout {
                        order_id: order_root.to_string(),
                    },
                )),
                ..Default::default()
            },
        ),
    ] {
        dynamo_count.reset();
        sns_count.reset();
        coordinator.handle(request).await.unwrap();
        counts.push((label, dynamo_count.get(), sns_count.get()));
    }

    // The projector trigger: one book through the guard into the read model.
    coordinator
        .handle(CommandRequest {
            command: Some(command(
                order::DOMAIN,
                order_root,
                "c",
                &angzarr_example_shop::proto::PlaceOrder {
                    cart_id: cart_root.to_string(),
                    items: vec![angzarr_example_shop::proto::LineItem {
                        sku: "a".into(),
                        quantity: 2,
                        unit_price_cents: 10,
                    }],
                    total_cents: 20,
                },
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    coordinator
        .handle(CommandRequest {
            command: Some(command(
                order::DOMAIN,
                order_root,
                "c",
                &ConfirmPayment {
                    payment_id: "p".into(),
                    amount_cents: 20,
                },
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    let books: Vec<_> = log
        .receive(10, Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.book)
        .filter(|b| b.cover.as_ref().is_some_and(|c| c.domain == order::DOMAIN))
        .collect();
    let triggers = Triggers::new(
        Arc::new(dynamodb.firing_guard()),
        FiringPolicy::default(),
        coordinator.clone(),
        Arc::new(MemoryDeadLetters::new()),
    )
    .projector(Subscribed::new(
        Arc::new(OrderSummaryTable::new(client.clone(), read_model_table)),
        [order::DOMAIN],
    ));
    dynamo_count.reset();
    triggers.deliver("m0", books[0].clone()).await.unwrap();
    counts.push(("projector delivery (new summary)", dynamo_count.get(), 0));
    dynamo_count.reset();
    triggers.deliver("m1", books[1].clone()).await.unwrap();
    counts.push((
        "projector delivery (existing summary)",
        dynamo_count.get(),
        0,
    ));
    dynamo_count.reset();
    let report = triggers.deliver("m1", books[1].clone()).await.unwrap();
    assert_eq!(report.duplicates, ["order-summary"]);
    counts.push(("duplicate delivery", dynamo_count.get(), 0));

    println!("| step | DynamoDB requests | SNS requests |\n|---|---|---|");
    for (label, dynamo, sns) in &counts {
        println!("| {label} | {dynamo} | {sns} |");
    }
    // Every command publishes once; a duplicate costs one guard request.
    assert!(
        counts[..3].iter().all(|(_, _, sns)| *sns == 1),
        "{counts:?}"
    );
    assert_eq!(counts[5].1, 1, "{counts:?}");
    assert!(counts[1].1 <= counts[0].1, "{counts:?}");
}

/// Publishes on both buses.
#[derive(Debug)]
struct Tee(Arc<dyn EventBus>, MemoryBus);

#[async_trait::async_trait]
impl EventBus for Tee {
    async fn publish(&self, book: &angzarr_core::proto::EventBook) -> angzarr_core::Result<()> {
        self.0.publish(book).await?;
        self.1.publish(book).await
    }
    fn max_message_bytes(&self) -> usize {
        self.0.max_message_bytes()
    }
}
