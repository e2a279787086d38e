//! The shop's wiring on the memory backends. The whole flow (cart →
//! checkout → (saga) order → payment → (saga) shipment → ship → read model)
//! is the host suite's (`angzarr_testkit::suites::host::shop_flow`), which
//! runs on this shop as `MemoryShop` in angzarr-testkit's tests, through the
//! gateway in angzarr-gateway's, and in `angzarr demo`; what is the wiring's
//! own is here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::Subscription;
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{AddItem, Checkout, OrderPlaced};
use common::{decode, request, types};

#[tokio::test]
async fn the_checkout_saga_places_the_order_once_for_its_cart_in_its_correlation() {
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
    // The two cart books to the checkout saga; the order book it causes to
    // the projector and the fulfillment saga; every one twice.
    assert_eq!(shop.pump_each(2).await.unwrap(), (2 + 2) * 2);
    let published = orders
        .receive(10, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(published.len(), 1, "the saga placed the order once");
    assert_eq!(published[0].attributes.correlation_id, "journey-42");
    assert_eq!(types(&published[0].book.pages), ["shop.OrderPlaced"]);
    let placed: OrderPlaced = decode(&published[0].book.pages[0]);
    assert_eq!(placed.cart_id, cart.to_string(), "the order names its cart");
    assert!(shop.dead_letters.letters().is_empty());
}
