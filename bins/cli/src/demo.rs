//! `angzarr demo`: the shop flow on the embedded memory backends, step by
//! step — cart → checkout → (saga) order → payment → (saga) shipment → ship
//! → the order-summary read model.

use std::time::Duration;

use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::memory::MemorySubscription;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, EventPage};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Subscription, any};
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment, OrderStatus, Ship};
use angzarr_runtime::authoring::command;
use anyhow::Context;
use prost::Name;

fn request<M: Name>(
    domain: &str,
    root: uuid::Uuid,
    correlation: &str,
    message: &M,
) -> CommandRequest {
    CommandRequest {
        command: Some(command(domain, root, correlation, message)),
        ..Default::default()
    }
}

fn short(id: uuid::Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

fn event_name(page: &EventPage) -> String {
    match &page.payload {
        Some(Payload::Event(event)) => any::type_name(&event.type_url)
            .trim_start_matches("shop.")
            .to_owned(),
        _ => "(offloaded)".to_owned(),
    }
}

/// Prints what was published since the last call: every book of every domain.
async fn print_published(log: &MemorySubscription) -> anyhow::Result<()> {
    for delivery in log.receive(100, Duration::ZERO).await? {
        let key = AggregateKey::from_book(&delivery.book)?;
        for page in &delivery.book.pages {
            println!(
                "      published {:<11} {} #{} {}",
                key.domain,
                short(key.root),
                page_sequence(page).unwrap_or_default(),
                event_name(page)
            );
        }
        log.ack(&delivery.ack_id).await?;
    }
    Ok(())
}

pub async fn run() -> anyhow::Result<()> {
    let config = Config::load().context("loading configuration")?;
    if config.storage.kind != StorageType::Memory || config.messaging.kind != MessagingType::Memory
    {
        println!(
            "note: configured storage `{:?}` / messaging `{:?}`; the demo always runs on the embedded memory backends",
            config.storage.kind, config.messaging.kind
        );
    }
    let shop = Shop::in_memory();
    let log = shop.bus.subscribe("demo-log");
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();
    let journey = uuid::Uuid::new_v4().to_string();
    println!("angzarr demo: the shop on the embedded memory backends (correlation id {journey})\n");

    let steps: Vec<(String, CommandRequest)> = vec![
        (
            format!("cart {}: AddItem apple x3 at 0.50", short(cart)),
            request(
                "cart",
                cart,
                &journey,
                &AddItem {
                    sku: "apple".into(),
                    quantity: 3,
                    unit_price_cents: 50,
                },
            ),
        ),
        (
            format!("cart {}: AddItem pear x2 at 0.75", short(cart)),
            request(
                "cart",
                cart,
                &journey,
                &AddItem {
                    sku: "pear".into(),
                    quantity: 2,
                    unit_price_cents: 75,
                },
            ),
        ),
        (
            format!("cart {}: Checkout as order {}", short(cart), short(order)),
            request(
                "cart",
                cart,
                &journey,
                &Checkout {
                    order_id: order.to_string(),
                },
            ),
        ),
        (
            format!("order {}: ConfirmPayment 2.00 (wrong amount)", short(order)),
            request(
                "order",
                order,
                &journey,
                &ConfirmPayment {
                    payment_id: "pay-1".into(),
                    amount_cents: 200,
                },
            ),
        ),
        (
            format!("order {}: ConfirmPayment 3.00", short(order)),
            request(
                "order",
                order,
                &journey,
                &ConfirmPayment {
                    payment_id: "pay-2".into(),
                    amount_cents: 300,
                },
            ),
        ),
        (
            format!("fulfillment {}: Ship with post, TRK-1", short(order)),
            request(
                "fulfillment",
                order,
                &journey,
                &Ship {
                    carrier: "post".into(),
                    tracking_number: "TRK-1".into(),
                },
            ),
        ),
    ];
    for (number, (title, command)) in steps.into_iter().enumerate() {
        println!("{}. {title}", number + 1);
        match shop.send(command).await {
            Ok(response) => {
                let book = response.events.unwrap_or_default();
                let names: Vec<_> = book.pages.iter().map(event_name).collect();
                println!(
                    "   -> {} (next sequence {})",
                    names.join(", "),
                    book.next_sequence
                );
            }
            Err(error) => println!("   -> refused ({}): {error}", error.code()),
        }
        // Deliver to the sagas and the projector, as the bus triggers would.
        let deliveries = shop.pump().await?;
        print_published(&log).await?;
        if deliveries > 0 {
            println!("      ({deliveries} deliveries to sagas and the projector)");
        }
    }

    println!("\nread model order-summary:");
    for summary in shop.summaries.all() {
        println!(
            "  order {}: {}, {} items, total {:.2}, tracking {}",
            &summary.order_id[..8],
            OrderStatus::try_from(summary.status)
                .map_or("UNKNOWN", |s| s.as_str_name())
                .trim_start_matches("ORDER_STATUS_"),
            summary.item_count,
            summary.total_cents as f64 / 100.0,
            if summary.tracking_number.is_empty() {
                "-"
            } else {
                &summary.tracking_number
            },
        );
    }
    if !shop.dead_letters.letters().is_empty() {
        println!("dead letters: {}", shop.dead_letters.letters().len());
    }
    Ok(())
}
