//! `angzarr demo`: the shop flow on the embedded memory backends, step by
//! step — cart → checkout → (saga) order → payment → (saga) shipment → ship
//! → the order-summary read model.
//!
//! The flow is the host suite's (`angzarr_testkit::suites::host::shop_flow`),
//! the one every deployment of the shop is tested with, narrated as it runs
//! ([`Narrated`]) on the Rust shop in this process ([`MemoryShop`]), every
//! published record delivered twice. The suite checks each answer as it
//! goes; a failed check panics with what was expected, which ends the
//! process with a failure exit (and the message on stderr).

use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_example_shop::proto::OrderStatus;
use angzarr_testkit::suites::host::{MemoryShop, Narrated, shop_flow};
use anyhow::Context;

pub async fn run() -> anyhow::Result<()> {
    let config = Config::load().context("loading configuration")?;
    if config.storage.kind != StorageType::Memory || config.messaging.kind != MessagingType::Memory
    {
        println!(
            "note: configured storage `{:?}` / messaging `{:?}`; the demo always runs on the embedded memory backends",
            config.storage.kind, config.messaging.kind
        );
    }
    println!(
        "angzarr demo: the shop on the embedded memory backends, every published record delivered twice\n"
    );
    let host = MemoryShop::new();
    shop_flow(&Narrated::new(&host)).await;

    let shop = host.shop();
    println!("\nread model order-summary:");
    for summary in shop.summaries.all() {
        println!(
            "  order {}: {}, {} items, total {:.2}, tracking {}",
            summary.order_id.get(..8).unwrap_or(&summary.order_id),
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
    let dead_letters = shop.dead_letters.letters();
    if !dead_letters.is_empty() {
        println!("dead letters: {}", dead_letters.len());
    }
    Ok(())
}
