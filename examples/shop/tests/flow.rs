//! The shop flow on the memory backends, as the event-driven topology runs it:
//! cart → checkout → (saga) order → payment → (saga) shipment → ship → read model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::proto::Query;
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{
    AddItem, Checkout, ConfirmPayment, OrderPlaced, OrderStatus, Ship,
};
use common::{decode, key, request, types};

#[tokio::test]
async fn the_shop_flow_completes_and_the_read_model_shows_it() {
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();

    for (sku, quantity, price) in [("apple", 3, 50), ("pear", 2, 75)] {
        shop.send(request(
            "cart",
            cart,
            &AddItem {
                sku: sku.into(),
                quantity,
                unit_price_cents: price,
            },
        ))
        .await
        .unwrap();
    }
    shop.send(request(
        "cart",
        cart,
        &Checkout {
            order_id: order.to_string(),
        },
    ))
    .await
    .unwrap();
    // The checkout saga places the order; the projector sees it.
    assert!(shop.pump().await.unwrap() >= 2);
    let summary = shop
        .summaries
        .get(&order.to_string())
        .expect("order summarised");
    assert_eq!(summary.status(), OrderStatus::Placed);
    assert_eq!(summary.total_cents, 3 * 50 + 2 * 75);
    assert_eq!(summary.item_count, 5);

    shop.send(request(
        "order",
        order,
        &ConfirmPayment {
            payment_id: "pay-1".into(),
            amount_cents: 300,
        },
    ))
    .await
    .unwrap();
    shop.pump().await.unwrap();
    assert_eq!(
        shop.summaries.get(&order.to_string()).unwrap().status(),
        OrderStatus::Fulfilling
    );

    shop.send(request(
        "fulfillment",
        order,
        &Ship {
            carrier: "post".into(),
            tracking_number: "TRK-1".into(),
        },
    ))
    .await
    .unwrap();
    shop.pump().await.unwrap();
    let summary = shop.summaries.get(&order.to_string()).unwrap();
    assert_eq!(summary.status(), OrderStatus::Shipped);
    assert_eq!(summary.tracking_number, "TRK-1");

    // The stored histories.
    let query = |domain: &str, root: uuid::Uuid| Query {
        cover: Some(key(domain, root).cover("")),
        selection: None,
    };
    let cart_events = shop
        .queries
        .get_event_book(query("cart", cart))
        .await
        .unwrap();
    assert_eq!(
        types(&cart_events.pages),
        ["shop.ItemAdded", "shop.ItemAdded", "shop.CheckedOut"]
    );
    let order_events = shop
        .queries
        .get_event_book(query("order", order))
        .await
        .unwrap();
    assert_eq!(
        types(&order_events.pages),
        ["shop.OrderPlaced", "shop.OrderPaid"]
    );
    let placed: OrderPlaced = decode(&order_events.pages[0]);
    assert_eq!(placed.cart_id, cart.to_string());
    let shipment = shop
        .queries
        .get_event_book(query("fulfillment", order))
        .await
        .unwrap();
    assert_eq!(
        types(&shipment.pages),
        ["shop.ShipmentCreated", "shop.Shipped"]
    );
    assert!(shop.dead_letters.letters().is_empty());
}

#[tokio::test]
async fn saga_commands_keep_the_source_correlation_id() {
    use angzarr_core::Subscription;
    let shop = Shop::in_memory();
    let orders = shop.bus.subscribe_with(
        "watch-orders",
        Some(&["order"]),
        std::time::Duration::from_secs(30),
    );
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();
    for message in [
        request(
            "cart",
            cart,
            &AddItem {
                sku: "fig".into(),
                quantity: 1,
                unit_price_cents: 10,
            },
        ),
        request(
            "cart",
            cart,
            &Checkout {
                order_id: order.to_string(),
            },
        ),
    ] {
        let mut message = message;
        message
            .command
            .as_mut()
            .unwrap()
            .cover
            .as_mut()
            .unwrap()
            .correlation_id = "journey-42".into();
        let response = shop.send(message).await.unwrap();
        assert_eq!(
            response.events.unwrap().cover.unwrap().correlation_id,
            "journey-42"
        );
    }
    shop.pump().await.unwrap();
    let published = orders
        .receive(10, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(published.len(), 1, "the saga placed the order once");
    assert_eq!(published[0].attributes.correlation_id, "journey-42");
    assert_eq!(types(&published[0].book.pages), ["shop.OrderPlaced"]);
}
