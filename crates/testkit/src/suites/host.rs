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
//!
//! [`MemoryShop`] is the Rust shop on the memory backends as a host, and
//! [`Narrated`] wraps any host to print what the flow does, as the demos
//! show it:
//!
//! ```no_run
//! # async fn demo() {
//! use angzarr_testkit::suites::host::{MemoryShop, Narrated, shop_flow};
//! let host = MemoryShop::new();
//! shop_flow(&Narrated::new(&host)).await;
//! # }
//! ```

use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage, Query, command_page};
use angzarr_core::{AggregateKey, Error, any};
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{
    AddItem, Checkout, ConfirmPayment, OrderSummary, RemoveItem, Ship,
};
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

    /// A summary from the Rust shop's read-model record.
    pub fn from_proto(summary: &OrderSummary) -> Self {
        Self {
            status: summary.status().as_str_name().to_owned(),
            total_cents: summary.total_cents,
            item_count: summary.item_count,
            tracking_number: summary.tracking_number.clone(),
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

/// The Rust shop ([`Shop::in_memory`]) as a host: commands run on its
/// coordinator, and [`ShopHost::settle`] hands every published book to the
/// projector and the sagas twice ([`Shop::pump_each`]) until nothing is left.
#[derive(Debug)]
pub struct MemoryShop {
    shop: Shop,
}

impl MemoryShop {
    /// The shop on fresh memory backends.
    pub fn new() -> Self {
        Self {
            shop: Shop::in_memory(),
        }
    }

    /// The shop behind the host: its read model, dead letters, bus.
    pub fn shop(&self) -> &Shop {
        &self.shop
    }
}

impl Default for MemoryShop {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ShopHost for MemoryShop {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        self.shop.send(request).await
    }

    async fn settle(&self) -> Result<(), String> {
        self.shop
            .pump_each(2)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        let key = AggregateKey::new(domain, root).map_err(|e| e.to_string())?;
        let query = Query {
            cover: Some(key.cover("")),
            selection: None,
        };
        let book = self
            .shop
            .queries
            .get_event_book(query)
            .await
            .map_err(|e| e.to_string())?;
        Ok(book.pages)
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        Ok(self
            .shop
            .summaries
            .get(&order.to_string())
            .map(|summary| Summary::from_proto(&summary)))
    }
}

/// A host that prints what goes through it, as a demo shows it: every
/// command sent and its answer (the events, or the refusal), every settle,
/// and every read of the read model. It forwards each call to the host it
/// wraps unchanged and hands back that host's answer unchanged; reads of
/// stored events pass through without a word.
pub struct Narrated<'a> {
    inner: &'a dyn ShopHost,
}

impl<'a> Narrated<'a> {
    /// Narrates the calls to `inner`.
    pub fn new(inner: &'a dyn ShopHost) -> Self {
        Self { inner }
    }
}

impl std::fmt::Debug for Narrated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Narrated").finish_non_exhaustive()
    }
}

#[async_trait]
impl ShopHost for Narrated<'_> {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        println!("→ {}", describe_command(&request));
        let answer = self.inner.send(request).await;
        println!("  ← {}", describe_answer(&answer));
        answer
    }

    async fn settle(&self) -> Result<(), String> {
        println!("… delivering what was published…");
        self.inner.settle().await
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        self.inner.events(domain, root).await
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        let summary = self.inner.summary(order).await;
        let shown = match &summary {
            Ok(Some(summary)) => describe_summary(summary),
            Ok(None) => "no summary".to_owned(),
            Err(error) => format!("unreadable: {error}"),
        };
        println!("  read model, order {}: {shown}", short(order.as_bytes()));
        summary
    }
}

/// The first 8 hex digits of an id.
fn short(id: &[u8]) -> String {
    id.iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `domain root-prefix type…` of a command request.
fn describe_command(request: &CommandRequest) -> String {
    let Some(book) = &request.command else {
        return "(a request without a command)".to_owned();
    };
    let (domain, root) = book.cover.as_ref().map_or(("?", String::new()), |cover| {
        (
            cover.domain.as_str(),
            cover
                .root
                .as_ref()
                .map(|root| short(&root.value))
                .unwrap_or_default(),
        )
    });
    let types: Vec<&str> = book
        .pages
        .iter()
        .map(|page| match &page.payload {
            Some(command_page::Payload::Command(command)) => any::type_name(&command.type_url),
            Some(command_page::Payload::External(_)) => "(offloaded)",
            None => "(empty)",
        })
        .collect();
    format!("{domain} {root} {}", types.join(", "))
}

/// The event types of an answer, or its refusal.
fn describe_answer(answer: &Result<CommandResponse, Error>) -> String {
    match answer {
        Ok(response) => {
            let types = response
                .events
                .as_ref()
                .map(|book| event_types(&book.pages))
                .unwrap_or_default();
            if types.is_empty() {
                "no events".to_owned()
            } else {
                types.join(", ")
            }
        }
        Err(error) => format!("refused ({}): {error}", error.code()),
    }
}

/// `PLACED, 5 items, total 3.00, tracking -`.
fn describe_summary(summary: &Summary) -> String {
    let tracking = if summary.tracking_number.is_empty() {
        "-"
    } else {
        &summary.tracking_number
    };
    format!(
        "{}, {} items, total {}.{:02}, tracking {tracking}",
        summary.status.trim_start_matches("ORDER_STATUS_"),
        summary.item_count,
        summary.total_cents / 100,
        summary.total_cents % 100,
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_core::proto::EventBook;
    use std::sync::Mutex;

    /// Answers every call with the same canned result and records what it
    /// was asked.
    #[derive(Default)]
    struct Canned {
        refuse: bool,
        calls: Mutex<Vec<String>>,
    }

    fn added() -> EventPage {
        EventPage {
            payload: Some(Payload::Event(any::pack(
                &angzarr_example_shop::proto::ItemAdded {
                    sku: "apple".into(),
                    quantity: 3,
                    unit_price_cents: 50,
                },
            ))),
            ..Default::default()
        }
    }

    fn shipped() -> Summary {
        Summary {
            status: "ORDER_STATUS_SHIPPED".into(),
            total_cents: 305,
            item_count: 5,
            tracking_number: "TRK-42".into(),
        }
    }

    #[async_trait]
    impl ShopHost for Canned {
        async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
            self.calls.lock().unwrap().push(describe_command(&request));
            if self.refuse {
                return Err(Error::Rejected {
                    reason: "no kiwi in the cart".into(),
                });
            }
            Ok(CommandResponse {
                events: Some(EventBook {
                    pages: vec![added()],
                    next_sequence: 7,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }

        async fn settle(&self) -> Result<(), String> {
            self.calls.lock().unwrap().push("settle".into());
            Err("a record keeps failing".into())
        }

        async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("events {domain} {root}"));
            Ok(vec![added(), added()])
        }

        async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
            self.calls.lock().unwrap().push(format!("summary {order}"));
            Ok(Some(shipped()))
        }
    }

    #[tokio::test]
    async fn the_shop_flow_on_the_memory_shop() {
        let host = MemoryShop::new();
        shop_flow(&host).await;
        assert!(host.shop().dead_letters.letters().is_empty());
    }

    #[tokio::test]
    async fn narrated_forwards_every_call_and_answer_unchanged() {
        let root = uuid::Uuid::new_v4();
        let apples = AddItem {
            sku: "apple".into(),
            quantity: 3,
            unit_price_cents: 50,
        };
        let inner = Canned::default();
        let narrated = Narrated::new(&inner);

        let answer = narrated.send(request("cart", root, &apples)).await.unwrap();
        assert_eq!(
            answer,
            inner.send(request("cart", root, &apples)).await.unwrap()
        );
        assert_eq!(
            narrated.settle().await,
            Err("a record keeps failing".to_owned())
        );
        assert_eq!(
            narrated.events("cart", root).await,
            Ok(vec![added(), added()])
        );
        assert_eq!(narrated.summary(root).await, Ok(Some(shipped())));

        let command = describe_command(&request("cart", root, &apples));
        assert_eq!(
            *inner.calls.lock().unwrap(),
            [
                command.clone(),
                command,
                "settle".to_owned(),
                format!("events cart {root}"),
                format!("summary {root}"),
            ]
        );

        let refusing = Canned {
            refuse: true,
            ..Default::default()
        };
        match Narrated::new(&refusing)
            .send(request("cart", root, &apples))
            .await
        {
            Err(Error::Rejected { reason }) => assert_eq!(reason, "no kiwi in the cart"),
            other => panic!("the refusal was not handed back: {other:?}"),
        }
    }

    #[test]
    fn the_narration_names_domain_root_types_and_refusals() {
        let root = uuid::Uuid::parse_str("0123abcd-0000-4000-8000-000000000000").unwrap();
        let checkout = Checkout {
            order_id: root.to_string(),
        };
        assert_eq!(
            describe_command(&request("cart", root, &checkout)),
            "cart 0123abcd shop.Checkout"
        );
        let refused = Err(Error::Rejected {
            reason: "the cart is checked out".into(),
        });
        assert_eq!(
            describe_answer(&refused),
            "refused (rejected): rejected: the cart is checked out"
        );
        assert_eq!(
            describe_summary(&shipped()),
            "SHIPPED, 5 items, total 3.05, tracking TRK-42"
        );
    }
}
