//! The host suite: the shop's whole flow through a deployment's
//! client-facing API, the same on every host (the memory host, Lambda on
//! moto, Cloud Run on the Google emulators, the Python shop on both).
//!
//! A host implements [`ShopHost`]: send a command through its gateway,
//! deliver what was published (every record twice: at-least-once delivery),
//! read the stored events and the read model. [`shop_flow`] then checks what
//! a user of the shop depends on: commands answer with their events; a
//! rejection is a rejection and appends nothing; the sagas place the order
//! and create the shipment exactly once although every record came twice;
//! the read model follows the order to `shipped`.

use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage};
use angzarr_core::{Error, any};
use angzarr_example_shop::proto::{AddItem, Checkout, ConfirmPayment, RemoveItem, Ship};
use async_trait::async_trait;
use prost::Name;

/// The read model's view of one order, as its API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The status's name (`ORDER_STATUS_PLACED`, ...).
    pub status: String,
    /// The order's total.
    pub total_cents: u64,
    /// How many items it holds.
    pub item_count: u32,
    /// The shipment's tracking number, once shipped.
    pub tracking_number: String,
}

impl Summary {
    /// A summary from the JSON the shop's read models show (the Rust shop's
    /// query API, the Python projector's files): `status`, `total_cents`,
    /// `item_count`, `tracking_number`.
    pub fn from_json(json: &serde_json::Value) -> Self {
        Self {
            status: json["status"].as_str().unwrap_or_default().to_owned(),
            total_cents: json["total_cents"].as_u64().unwrap_or_default(),
            item_count: json["item_count"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_default(),
            tracking_number: json["tracking_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// The summary of `order` in a directory of `<order id>.json` files (the
    /// Python shop's read model), if there is one.
    pub fn from_file_in(dir: &std::path::Path, order: uuid::Uuid) -> Result<Option<Self>, String> {
        let path = dir.join(format!("{order}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(Self::from_json(&json)))
    }
}

/// A deployment of the shop, driven as its users drive it.
#[async_trait]
pub trait ShopHost: Send + Sync {
    /// Sends `request` through the gateway; the answer, or the error as the
    /// client decodes it (`angzarr_core::error::wire`).
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error>;

    /// Delivers everything published so far to the triggers, every record
    /// twice, until nothing is left; fails if a record keeps failing.
    async fn settle(&self) -> Result<(), String>;

    /// Every stored event of `domain`/`root`.
    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String>;

    /// The read model's summary of `order`, if it has one.
    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String>;
}

/// A command to `domain`/`root` in the flow's correlation.
pub fn request<M: Name>(domain: &str, root: uuid::Uuid, message: &M) -> CommandRequest {
    let cover = angzarr_core::proto::Cover {
        root: Some(angzarr_core::proto::Uuid {
            value: root.as_bytes().to_vec(),
        }),
        domain: domain.to_owned(),
        correlation_id: "host-suite".to_owned(),
        edition: None,
    };
    CommandRequest {
        command: Some(angzarr_core::proto::CommandBook {
            cover: Some(cover),
            pages: vec![angzarr_core::proto::CommandPage {
                payload: Some(angzarr_core::proto::command_page::Payload::Command(
                    any::pack(message),
                )),
                ..Default::default()
            }],
        }),
        ..Default::default()
    }
}

/// The type names of `pages`' events.
pub fn event_types(pages: &[EventPage]) -> Vec<String> {
    pages
        .iter()
        .map(|page| match &page.payload {
            Some(Payload::Event(event)) => any::type_name(&event.type_url).to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

async fn sent<M: Name>(
    host: &dyn ShopHost,
    domain: &str,
    root: uuid::Uuid,
    message: &M,
) -> Vec<String> {
    match host.send(request(domain, root, message)).await {
        Ok(answer) => event_types(&answer.events.map(|b| b.pages).unwrap_or_default()),
        Err(error) => panic!("{domain} {}: {error}", M::full_name()),
    }
}

async fn stored(host: &dyn ShopHost, domain: &str, root: uuid::Uuid) -> Vec<String> {
    let pages = host
        .events(domain, root)
        .await
        .unwrap_or_else(|e| panic!("reading {domain}/{root}: {e}"));
    event_types(&pages)
}

async fn settled(host: &dyn ShopHost) {
    if let Err(error) = host.settle().await {
        panic!("delivery did not settle: {error}");
    }
}

async fn summary(host: &dyn ShopHost, order: uuid::Uuid) -> Summary {
    match host.summary(order).await {
        Ok(Some(summary)) => summary,
        Ok(None) => panic!("the read model has no summary of {order}"),
        Err(error) => panic!("reading the read model: {error}"),
    }
}

/// The shop's flow: cart → checkout → (saga) order → payment → (saga)
/// shipment → shipped, with rejections on the way.
pub async fn shop_flow(host: &dyn ShopHost) {
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();
    let apples = AddItem {
        sku: "apple".into(),
        quantity: 3,
        unit_price_cents: 50,
    };
    let pears = AddItem {
        sku: "pear".into(),
        quantity: 2,
        unit_price_cents: 75,
    };
    assert_eq!(sent(host, "cart", cart, &apples).await, ["shop.ItemAdded"]);
    assert_eq!(sent(host, "cart", cart, &pears).await, ["shop.ItemAdded"]);

    // A rejection reaches the client as one, and appends nothing.
    let kiwi = RemoveItem { sku: "kiwi".into() };
    match host.send(request("cart", cart, &kiwi)).await {
        Err(Error::Rejected { .. }) => {}
        other => panic!("removing an item not in the cart: {other:?}"),
    }
    assert_eq!(
        stored(host, "cart", cart).await.len(),
        2,
        "the rejection appended nothing"
    );

    let checkout = Checkout {
        order_id: order.to_string(),
    };
    assert_eq!(
        sent(host, "cart", cart, &checkout).await,
        ["shop.CheckedOut"]
    );
    match host.send(request("cart", cart, &checkout)).await {
        Err(Error::Rejected { .. }) => {}
        other => panic!("a second checkout: {other:?}"),
    }

    // The checkout saga places the order once, though every record came twice.
    settled(host).await;
    assert_eq!(stored(host, "order", order).await, ["shop.OrderPlaced"]);
    let placed = summary(host, order).await;
    assert_eq!(placed.status, "ORDER_STATUS_PLACED");
    assert_eq!((placed.total_cents, placed.item_count), (300, 5));

    let payment = ConfirmPayment {
        payment_id: "pay-1".into(),
        amount_cents: 300,
    };
    assert_eq!(
        sent(host, "order", order, &payment).await,
        ["shop.OrderPaid"]
    );
    settled(host).await;
    assert_eq!(
        stored(host, "fulfillment", order).await,
        ["shop.ShipmentCreated"]
    );
    assert_eq!(summary(host, order).await.status, "ORDER_STATUS_FULFILLING");

    let ship = Ship {
        carrier: "post".into(),
        tracking_number: "TRK-42".into(),
    };
    assert_eq!(
        sent(host, "fulfillment", order, &ship).await,
        ["shop.Shipped"]
    );
    settled(host).await;

    assert_eq!(
        stored(host, "cart", cart).await,
        ["shop.ItemAdded", "shop.ItemAdded", "shop.CheckedOut"]
    );
    assert_eq!(
        stored(host, "order", order).await,
        ["shop.OrderPlaced", "shop.OrderPaid"]
    );
    assert_eq!(
        stored(host, "fulfillment", order).await,
        ["shop.ShipmentCreated", "shop.Shipped"]
    );
    let shipped = summary(host, order).await;
    assert_eq!(
        shipped,
        Summary {
            status: "ORDER_STATUS_SHIPPED".into(),
            total_cents: 300,
            item_count: 5,
            tracking_number: "TRK-42".into(),
        }
    );
}
