//! The shop flow driven through the gateway's HTTP API, in protobuf and in
//! JSON: cart → checkout → (saga) order → payment → (saga) shipment → ship →
//! the order-summary read model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::any;
use angzarr_core::proto::event_page::Payload;
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{
    AddItem, Checkout, ConfirmPayment, ItemAdded, OrderStatus, Ship,
};
use angzarr_gateway::PROTOBUF;
use common::*;
use http::{StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn the_shop_flow_completes_over_protobuf() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();

    let answer = run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "apple".into(),
                quantity: 3,
                unit_price_cents: 50,
            },
        ),
    )
    .await;
    let events = answer.events.expect("the answer carries the new events");
    assert_eq!(events.next_sequence, 1);
    let Some(Payload::Event(added)) = &events.pages[0].payload else {
        panic!("no event");
    };
    let added: ItemAdded = any::unpack(added).unwrap();
    assert_eq!((added.sku.as_str(), added.quantity), ("apple", 3));

    run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "pear".into(),
                quantity: 2,
                unit_price_cents: 75,
            },
        ),
    )
    .await;
    run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &Checkout {
                order_id: order.to_string(),
            },
        ),
    )
    .await;
    shop.pump().await.unwrap();
    assert_eq!(
        shop.summaries.get(&order.to_string()).unwrap().status(),
        OrderStatus::Placed
    );

    run_protobuf(
        &app,
        &request(
            "order",
            order,
            &ConfirmPayment {
                payment_id: "pay-1".into(),
                amount_cents: 300,
            },
        ),
    )
    .await;
    shop.pump().await.unwrap();
    run_protobuf(
        &app,
        &request(
            "fulfillment",
            order,
            &Ship {
                carrier: "post".into(),
                tracking_number: "TRK-1".into(),
            },
        ),
    )
    .await;
    shop.pump().await.unwrap();

    let summary = shop.summaries.get(&order.to_string()).unwrap();
    assert_eq!(summary.status(), OrderStatus::Shipped);
    assert_eq!(summary.total_cents, 300);
    assert_eq!(summary.tracking_number, "TRK-1");

    let (book, next) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert_eq!(
        types(&book),
        ["shop.ItemAdded", "shop.ItemAdded", "shop.CheckedOut"]
    );
    assert_eq!((book.next_sequence, next), (3, 3));
    let (book, _) = poll_protobuf(&app, &format!("/v1/events/order/{order}")).await;
    assert_eq!(types(&book), ["shop.OrderPlaced", "shop.OrderPaid"]);
    let (book, _) = poll_protobuf(&app, &format!("/v1/events/fulfillment/{order}")).await;
    assert_eq!(types(&book), ["shop.ShipmentCreated", "shop.Shipped"]);
    assert!(shop.dead_letters.letters().is_empty());
}

#[tokio::test]
async fn the_shop_flow_completes_over_json() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();
    let order = uuid::Uuid::new_v4();

    let answer = run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "apple", "quantity": 3, "unitPriceCents": "50"}),
        ),
    )
    .await;
    // The answer is the protobuf JSON mapping: camelCase, `@type`, 64-bit
    // integers as strings, the root as base64.
    let events = &answer["events"];
    assert_eq!(events["cover"]["domain"], "cart");
    assert_eq!(events["cover"]["root"]["value"], root_json(cart));
    assert_eq!(events["nextSequence"], 1);
    assert_eq!(events["pages"][0]["header"]["sequence"], 0);
    let event = &events["pages"][0]["event"];
    assert_eq!(event["@type"], "type.googleapis.com/shop.ItemAdded");
    assert_eq!(event["sku"], "apple");
    assert_eq!(event["quantity"], 3);
    assert_eq!(event["unitPriceCents"], "50");

    // Numbers may be written as JSON numbers too.
    run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "pear", "quantity": 2, "unit_price_cents": 75}),
        ),
    )
    .await;
    run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.Checkout", "orderId": order.to_string()}),
        ),
    )
    .await;
    shop.pump().await.unwrap();
    run_json(
        &app,
        json_command(
            "order",
            order,
            json!({"@type": "type.googleapis.com/shop.ConfirmPayment", "paymentId": "pay-1", "amountCents": "300"}),
        ),
    )
    .await;
    shop.pump().await.unwrap();
    run_json(
        &app,
        json_command(
            "fulfillment",
            order,
            json!({"@type": "type.googleapis.com/shop.Ship", "carrier": "post", "trackingNumber": "TRK-9"}),
        ),
    )
    .await;
    shop.pump().await.unwrap();

    let summary = shop.summaries.get(&order.to_string()).unwrap();
    assert_eq!(summary.status(), OrderStatus::Shipped);
    assert_eq!(summary.total_cents, 300);
    assert_eq!(summary.item_count, 5);
    assert_eq!(summary.tracking_number, "TRK-9");

    let response = send(
        &app,
        get(&format!("/v1/events/order/{order}"), "application/json"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(
        json_types(&answer["book"]),
        [
            "type.googleapis.com/shop.OrderPlaced",
            "type.googleapis.com/shop.OrderPaid"
        ]
    );
    assert_eq!(
        answer["book"]["pages"][0]["event"]["cartId"],
        cart.to_string()
    );
    assert_eq!(answer["book"]["pages"][0]["event"]["totalCents"], "300");
    assert_eq!(answer["next"], 2);
    assert!(shop.dead_letters.letters().is_empty());
}

#[tokio::test]
async fn accept_chooses_the_answer_format() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    // JSON in, protobuf out.
    let mut http_request = post_json(&json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "fig", "quantity": 1, "unitPriceCents": "10"}),
    ));
    http_request
        .headers_mut()
        .insert(header::ACCEPT, PROTOBUF.parse().unwrap());
    let response = send(&app, http_request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROTOBUF);
    let answer: angzarr_core::proto::CommandResponse =
        prost::Message::decode(body(response).await).unwrap();
    assert_eq!(answer.events.unwrap().next_sequence, 1);

    // Protobuf in, JSON out.
    let mut http_request = post_protobuf(&request(
        "cart",
        cart,
        &AddItem {
            sku: "kiwi".into(),
            quantity: 1,
            unit_price_cents: 20,
        },
    ));
    http_request
        .headers_mut()
        .insert(header::ACCEPT, "application/json".parse().unwrap());
    let response = send(&app, http_request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(answer["events"]["pages"][0]["event"]["sku"], "kiwi");
    assert_eq!(answer["events"]["nextSequence"], 2);
}

#[tokio::test]
async fn a_business_rejection_is_422_with_its_reason() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    // An empty cart cannot be checked out.
    let response = send(
        &app,
        post_protobuf(&request(
            "cart",
            cart,
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    assert!(
        message.contains("an empty cart cannot be checked out"),
        "{message}"
    );

    // Same over JSON.
    let response = send(
        &app,
        post_json(&json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "", "quantity": 0}),
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    assert!(
        message.contains("an item needs a sku and a quantity"),
        "{message}"
    );

    // Nothing was stored.
    let (book, next) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert!(book.pages.is_empty());
    assert_eq!((book.next_sequence, next), (0, 0));
}

#[tokio::test]
async fn a_strict_command_at_a_stale_sequence_is_409() {
    use angzarr_core::proto::page_header::SequenceType;
    use angzarr_core::proto::{MergeStrategy, PageHeader};

    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();
    let add = AddItem {
        sku: "plum".into(),
        quantity: 1,
        unit_price_cents: 5,
    };
    run_protobuf(&app, &request("cart", cart, &add)).await;

    let mut stale = request("cart", cart, &add);
    let page = &mut stale.command.as_mut().unwrap().pages[0];
    page.merge_strategy = MergeStrategy::MergeStrict as i32;
    page.header = Some(PageHeader {
        sequence_type: Some(SequenceType::Sequence(0)),
    });
    let response = send(&app, post_protobuf(&stale)).await;
    expect_error(response, StatusCode::CONFLICT, "sequence_conflict").await;
}
