//! The shop on Cloud Run's event-driven topology, against the Pub/Sub and
//! Bigtable emulators, printing each step.
//!
//! ```sh
//! cargo run -p angzarr-example-shop-cloudrun --example cloudrun_demo
//! ```
//!
//! Starts both emulators (through `angzarr_testkit`), creates the tables,
//! topics and push subscriptions, serves the four roles on loopback ports,
//! drives cart → checkout → order → payment → shipment through the gateway,
//! and shows the stored events and the order-summary read model; then pushes
//! every delivery a second time to show that nothing happens twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_cloudrun::provision::{PushTargets, provision};
use angzarr_cloudrun::{Adapters, App, Role, ServerSettings, server};
use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook};
use angzarr_core::{EventBus, LoadRange};
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment, Ship};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use angzarr_testkit::emulators::{self, unique_name};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::{Message, Name};
use tokio::net::TcpListener;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    println!("== starting the Pub/Sub and Bigtable emulators");
    let (pubsub, bigtable) = (emulators::pubsub().await, emulators::bigtable().await);
    let mut config = Config::default();
    config.storage.kind = StorageType::GcpBigtable;
    let tables = &mut config.storage.gcp_bigtable;
    (tables.project, tables.instance) = ("angzarr-demo".into(), "angzarr-demo".into());
    tables.events_table = unique_name("events");
    tables.snapshots_table = unique_name("snapshots");
    tables.guard_table = unique_name("guard");
    tables.endpoint = Some(bigtable.endpoint());
    config.messaging.kind = MessagingType::GcpPubsub;
    config.messaging.gcp_pubsub.project = "angzarr-demo".into();
    config.messaging.gcp_pubsub.topic_prefix = format!("{}-", unique_name("shop"));
    config.messaging.gcp_pubsub.endpoint = Some(pubsub.endpoint());

    let bind = || TcpListener::bind("127.0.0.1:0");
    let (g, a, p, s) = (bind().await?, bind().await?, bind().await?, bind().await?);
    let url = |l: &TcpListener| l.local_addr().map(|addr| format!("http://{addr}"));
    let (gateway, aggregate, projectors, sagas) = (url(&g)?, url(&a)?, url(&p)?, url(&s)?);
    for domain in ["cart", "order", "fulfillment"] {
        config
            .discovery
            .env_urls
            .aggregates
            .insert(domain.into(), aggregate.clone());
    }

    println!("== provisioning tables, topics and push subscriptions");
    let tooling = Adapters::from_config(&config).await?;
    let targets = PushTargets {
        projectors: projectors.clone(),
        sagas: sagas.clone(),
    };
    let made = provision(
        &tooling,
        &shop::handlers(&OrderSummaries::default())?,
        Some(&targets),
        Duration::from_secs(10),
    )
    .await?;
    for (id, topic, endpoint) in &made.subscriptions {
        println!("   push subscription {id}: {topic} → {endpoint}");
    }

    println!("== serving the Cloud Run roles");
    let summaries = OrderSummaries::default();
    let mut stops = Vec::new();
    let mut saga_app = None;
    for (role, listener, base) in [
        (Role::Gateway, g, &gateway),
        (Role::Aggregate, a, &aggregate),
        (Role::ProjectorTrigger, p, &projectors),
        (Role::SagaTrigger, s, &sagas),
    ] {
        let model = if role == Role::ProjectorTrigger {
            summaries.clone()
        } else {
            OrderSummaries::default()
        };
        let adapters = Adapters::from_config(&config).await?;
        let app = Arc::new(App::new(
            adapters,
            shop::handlers(&model)?,
            &ServerSettings::default(),
        )?);
        if role == Role::SagaTrigger {
            saga_app = Some(app.clone());
        }
        let router = app.router(role)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(async move {
            let _ = server::serve(
                listener,
                router,
                app.adapters(),
                Duration::from_secs(2),
                async {
                    let _ = stopped.await;
                },
            )
            .await;
        });
        println!("   {role:<18} {base}");
    }

    let (cart, order) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let corr = format!("demo-{}", &cart.simple().to_string()[..8]);
    println!("== cart {cart}, order {order}, correlation {corr}");
    let add = AddItem {
        sku: "apple".into(),
        quantity: 2,
        unit_price_cents: 150,
    };
    send(&gateway, "cart", cart, &corr, &add).await?;
    let checked_out = send(
        &gateway,
        "cart",
        cart,
        &corr,
        &Checkout {
            order_id: order.to_string(),
        },
    )
    .await?;
    wait_for(&projectors, order, "ORDER_STATUS_PLACED").await?;
    let paid = send(
        &gateway,
        "order",
        order,
        &corr,
        &ConfirmPayment {
            payment_id: "pay-1".into(),
            amount_cents: 300,
        },
    )
    .await?;
    wait_for(&projectors, order, "ORDER_STATUS_FULFILLING").await?;
    send(
        &gateway,
        "fulfillment",
        order,
        &corr,
        &Ship {
            carrier: "ups".into(),
            tracking_number: "1Z999".into(),
        },
    )
    .await?;
    wait_for(&projectors, order, "ORDER_STATUS_SHIPPED").await?;

    println!("== stored events (Bigtable)");
    for (domain, root) in [("cart", cart), ("order", order), ("fulfillment", order)] {
        let key = angzarr_core::AggregateKey::new(domain, root)?;
        let pages = tooling.store.load(&key, LoadRange::all()).await?;
        let book = EventBook {
            pages,
            ..Default::default()
        };
        println!("   {domain:<12} {}", types(&book).join(", "));
    }
    if let Some(summary) = summaries.get(&order.to_string()) {
        println!(
            "== read model order-summary: {}",
            shop::summary_json(&summary)
        );
    }

    println!("== every delivery again (published a second time): no second effect");
    if let Some(bus) = &tooling.pubsub {
        bus.publish(&checked_out).await?;
        bus.publish(&paid).await?;
    }
    if let Some(app) = &saga_app {
        let give_up = Instant::now() + Duration::from_secs(60);
        while app.stats().get("checkout").duplicates == 0 && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (saga, counts) in app.stats().all() {
            println!(
                "   saga {saga:<12} handled {}, duplicates {}, commands sent {}",
                counts.done, counts.duplicates, counts.commands_sent
            );
        }
    }
    for (domain, root) in [("order", order), ("fulfillment", order)] {
        let key = angzarr_core::AggregateKey::new(domain, root)?;
        println!(
            "   {domain:<12} still {} events",
            tooling.store.load(&key, LoadRange::all()).await?.len()
        );
    }
    drop(stops);
    tooling.flush().await;
    println!("== done");
    Ok(())
}

async fn send<M: Name>(
    gateway: &str,
    domain: &str,
    root: uuid::Uuid,
    corr: &str,
    message: &M,
) -> Result<EventBook, Error> {
    let request = CommandRequest {
        command: Some(angzarr_runtime::authoring::command(
            domain, root, corr, message,
        )),
        ..Default::default()
    };
    let http = http::Request::post(format!("{gateway}/v1/commands"))
        .header("content-type", "application/x-protobuf")
        .header("accept", "application/x-protobuf")
        .body(Full::new(Bytes::from(request.encode_to_vec())))?;
    let response = Client::builder(TokioExecutor::new())
        .build_http()
        .request(http)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{domain} {}: {status} {}",
            M::NAME,
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let book = CommandResponse::decode(body)?.events.unwrap_or_default();
    println!(
        "-> {domain:<12} {:<15} → {}",
        M::NAME,
        types(&book).join(", ")
    );
    Ok(book)
}

async fn wait_for(projectors: &str, order: uuid::Uuid, status: &str) -> Result<(), Error> {
    let url = format!("{projectors}/v1/read-models/order-summary/{order}");
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let request = http::Request::get(&url).body(Full::<Bytes>::default())?;
        let response = Client::builder(TokioExecutor::new())
            .build_http()
            .request(request)
            .await?;
        let body = response.into_body().collect().await?.to_bytes();
        let summary: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if summary["status"] == status {
            println!("   (push) order-summary: {status}");
            return Ok(());
        }
        if Instant::now() > give_up {
            return Err(format!("order-summary never reached {status}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn types(book: &EventBook) -> Vec<String> {
    book.pages
        .iter()
        .filter_map(|page| match &page.payload {
            Some(angzarr_core::proto::event_page::Payload::Event(any)) => {
                any.type_url.rsplit('/').next().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}
