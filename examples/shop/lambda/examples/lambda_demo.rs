//! The shop on AWS Lambda, emulated, step by step: moto (DynamoDB, SNS →
//! SQS), the four functions under `cargo lambda watch`, the gateway called
//! with API Gateway HTTP API (v2) events, and a local event-source poller
//! delivering every SQS record twice to the trigger functions.
//!
//! ```text
//! cargo run -p angzarr-example-shop-lambda --example lambda_demo
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use angzarr_core::any;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment, OrderStatus, Ship};
use angzarr_runtime::authoring::command;
use anyhow::{Context, bail};
use prost::{Message, Name};
use support::Deployment;

fn short(id: uuid::Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

async fn step<M: Name>(
    shop: &Deployment,
    label: &str,
    domain: &str,
    root: uuid::Uuid,
    message: &M,
) -> anyhow::Result<CommandResponse> {
    println!("→ gateway  POST /v1/commands  {label}");
    let request = CommandRequest {
        command: Some(command(domain, root, "demo", message)),
        ..Default::default()
    };
    let (status, _, body) = shop
        .http(
            "POST",
            "/v1/commands",
            "application/x-protobuf",
            &request.encode_to_vec(),
        )
        .await?;
    if status != 200 {
        bail!(
            "gateway answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let response = CommandResponse::decode(body.as_slice())?;
    for page in response.events.iter().flat_map(|b| &b.pages) {
        if let Some(Payload::Event(e)) = &page.payload {
            println!(
                "    stored   {domain} {} {}",
                short(root),
                any::type_name(&e.type_url)
            );
        }
    }
    Ok(response)
}

async fn deliver(shop: &Deployment) -> anyhow::Result<()> {
    for round in 1..=30 {
        let saga = shop.poll(&shop.saga_queue, "saga-trigger", true).await?;
        let projector = shop
            .poll(&shop.projector_queue, "projector-trigger", true)
            .await?;
        if saga.records + projector.records == 0 {
            return Ok(());
        }
        println!(
            "    poller   round {round}: saga-trigger {} record(s) ×2, projector-trigger {} record(s) ×2, failed {:?}",
            saga.records,
            projector.records,
            [saga.failed, projector.failed].concat()
        );
    }
    bail!("the queues did not drain")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!(
        "angzarr on Lambda (emulated): starting moto and `cargo lambda watch` (the first call compiles the functions)…"
    );
    let shop = Deployment::shop(true).await?;
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();
    println!(
        "resources: tables/topics/queues `{}-*` on {}\n",
        shop.prefix, shop.endpoint
    );

    step(
        &shop,
        "cart AddItem apple ×3 @0.50",
        "cart",
        cart,
        &AddItem {
            sku: "apple".into(),
            quantity: 3,
            unit_price_cents: 50,
        },
    )
    .await?;
    step(
        &shop,
        "cart AddItem pear ×2 @0.75",
        "cart",
        cart,
        &AddItem {
            sku: "pear".into(),
            quantity: 2,
            unit_price_cents: 75,
        },
    )
    .await?;
    step(
        &shop,
        "cart Checkout",
        "cart",
        cart,
        &Checkout {
            order_id: order.to_string(),
        },
    )
    .await?;
    println!("  (saga checkout: CheckedOut ⇒ order PlaceOrder, via the aggregate function)");
    deliver(&shop).await?;
    step(
        &shop,
        "order ConfirmPayment 3.00",
        "order",
        order,
        &ConfirmPayment {
            payment_id: "pay-1".into(),
            amount_cents: 300,
        },
    )
    .await?;
    println!("  (saga fulfillment: OrderPaid ⇒ fulfillment CreateShipment)");
    deliver(&shop).await?;
    step(
        &shop,
        "fulfillment Ship",
        "fulfillment",
        order,
        &Ship {
            carrier: "post".into(),
            tracking_number: "TRK-42".into(),
        },
    )
    .await?;
    deliver(&shop).await?;

    println!("\nstored events (every record was delivered twice):");
    for (domain, root) in [("cart", cart), ("order", order), ("fulfillment", order)] {
        let names: Vec<String> = shop
            .events(domain, root)
            .await?
            .iter()
            .filter_map(|p| match &p.payload {
                Some(Payload::Event(e)) => Some(any::type_name(&e.type_url).to_owned()),
                _ => None,
            })
            .collect();
        println!("  {domain:<11} {}  {}", short(root), names.join(", "));
    }
    let summary = shop.summary(order).await?.context("no order summary")?;
    println!(
        "\norder-summary read model (DynamoDB): order {} status {} total {} cents, {} items, tracking {}",
        short(order),
        OrderStatus::try_from(summary.status).map_or("?", |s| s.as_str_name()),
        summary.total_cents,
        summary.item_count,
        summary.tracking_number
    );
    if summary.status != OrderStatus::Shipped as i32 {
        bail!("the order did not reach SHIPPED");
    }
    Ok(())
}
