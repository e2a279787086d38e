//! The embedded demo: one cart aggregate's events through the memory store,
//! bus, projector subscription and firing guard, printed step by step.

use std::collections::BTreeMap;
use std::time::Duration;

use angzarr_core::config::{Config, MessagingType, StorageType};
use angzarr_core::guard::firing_key;
use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard};
use angzarr_core::proto::EventBook;
use angzarr_core::store::page_sequence;
use angzarr_core::{
    Acquisition, AggregateKey, Error, EventBus, EventStore, EventStoreExt, FiringGuard, LoadRange,
    Subscription, any,
};
use anyhow::Context;

/// The demo's one event type.
#[derive(Clone, PartialEq, prost::Message)]
struct ItemAdded {
    #[prost(string, tag = "1")]
    sku: String,
    #[prost(uint32, tag = "2")]
    quantity: u32,
}

impl prost::Name for ItemAdded {
    const NAME: &'static str = "ItemAdded";
    const PACKAGE: &'static str = "angzarr.demo";
}

fn item(sku: &str, quantity: u32) -> angzarr_core::proto::EventPage {
    angzarr_core::proto::EventPage {
        payload: Some(angzarr_core::proto::event_page::Payload::Event(any::pack(
            &ItemAdded {
                sku: sku.into(),
                quantity,
            },
        ))),
        ..Default::default()
    }
}

fn decode(page: &angzarr_core::proto::EventPage) -> anyhow::Result<ItemAdded> {
    match &page.payload {
        Some(angzarr_core::proto::event_page::Payload::Event(event)) => {
            Ok(any::unpack::<ItemAdded>(event)?)
        }
        _ => anyhow::bail!("page has no inline event"),
    }
}

pub async fn run() -> anyhow::Result<()> {
    let config = Config::load().context("loading configuration")?;
    if config.storage.kind != StorageType::Memory || config.messaging.kind != MessagingType::Memory
    {
        println!(
            "note: configured storage `{:?}` / messaging `{:?}`; this demo always runs on the embedded memory backends",
            config.storage.kind, config.messaging.kind
        );
    }

    let store = MemoryEventStore::new();
    let bus = MemoryBus::new();
    let projector = bus.subscribe("cart-totals");
    let guard = MemoryFiringGuard::new();

    let cart = AggregateKey::new("cart", uuid::Uuid::new_v4())?;
    let correlation = uuid::Uuid::new_v4().to_string();
    println!("aggregate {cart}");

    // 1. Two events appended atomically at the expected next sequence 0.
    let next = store
        .append(&cart, 0, vec![item("sku-apple", 2), item("sku-pear", 1)])
        .await?;
    println!("appended 2 events at expected sequence 0 -> next sequence {next}");
    publish(&bus, &store, &cart, &correlation, LoadRange::from(0)).await?;

    // 2. A writer that still believes the cart is new is refused, and told where to retry.
    let retry_at = match store.append(&cart, 0, vec![item("sku-apple", 5)]).await {
        Err(Error::SequenceConflict { actual, .. }) => {
            println!(
                "stale writer at expected sequence 0 refused: actual next sequence is {actual}"
            );
            actual
        }
        other => anyhow::bail!("expected a sequence conflict, got {other:?}"),
    };
    let next = store
        .append(&cart, retry_at, vec![item("sku-apple", 5)])
        .await?;
    println!("retried at {retry_at} -> next sequence {next}");
    publish(&bus, &store, &cart, &correlation, LoadRange::from(retry_at)).await?;

    // 3. The history reads back in order.
    println!("history:");
    for page in store.load_all(&cart).await? {
        let event = decode(&page)?;
        let sequence = page_sequence(&page).context("stored page without sequence")?;
        println!("  #{sequence} ItemAdded {} x{}", event.sku, event.quantity);
    }

    // 4. A projector consumes the published books through the firing guard;
    //    a duplicate delivery of the first book has no second effect.
    let mut totals: BTreeMap<String, u32> = BTreeMap::new();
    let deliveries = projector.receive(10, Duration::from_secs(1)).await?;
    let duplicate = deliveries.first().map(|d| d.book.clone());
    for delivery in &deliveries {
        project(&guard, &delivery.book, &mut totals).await?;
        projector.ack(&delivery.ack_id).await?;
    }
    if let Some(book) = duplicate {
        let applied = project(&guard, &book, &mut totals).await?;
        println!("duplicate delivery of the first book applied again: {applied}");
    }
    println!("read model cart-totals: {totals:?}");
    Ok(())
}

async fn publish(
    bus: &MemoryBus,
    store: &MemoryEventStore,
    cart: &AggregateKey,
    correlation: &str,
    range: LoadRange,
) -> anyhow::Result<()> {
    let mut book = store.load_book(cart, range).await?;
    book.cover = Some(cart.cover(correlation));
    bus.publish(&book).await?;
    println!(
        "published {} page(s) with attributes domain/root_id/correlation_id",
        book.pages.len()
    );
    Ok(())
}

/// Applies a book to the read model once; returns whether it was applied.
async fn project(
    guard: &MemoryFiringGuard,
    book: &EventBook,
    totals: &mut BTreeMap<String, u32>,
) -> anyhow::Result<bool> {
    let key = firing_key("cart-totals", book)?;
    let lease = match guard.acquire(&key, Duration::from_secs(30)).await? {
        Acquisition::Acquired(lease) => lease,
        Acquisition::Completed | Acquisition::InProgress { .. } => return Ok(false),
    };
    for page in &book.pages {
        let event = decode(page)?;
        *totals.entry(event.sku).or_default() += event.quantity;
    }
    guard.complete(&lease, Duration::from_secs(3600)).await?;
    Ok(true)
}
