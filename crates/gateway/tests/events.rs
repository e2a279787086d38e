//! Polling the events of one aggregate: `from` inclusive, `to` exclusive,
//! `limit`, and `next` for the next poll.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::store::page_sequence;
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::AddItem;
use angzarr_gateway::{Gateway, NEXT_HEADER};
use common::*;
use http::StatusCode;

/// A cart with `n` events (sequences 0..n).
async fn cart_with(app: &axum::Router, n: u32) -> uuid::Uuid {
    let cart = uuid::Uuid::new_v4();
    for i in 0..n {
        run_protobuf(
            app,
            &request(
                "cart",
                cart,
                &AddItem {
                    sku: format!("sku-{i}"),
                    quantity: 1,
                    unit_price_cents: 1,
                },
            ),
        )
        .await;
    }
    cart
}

fn sequences(book: &angzarr_core::proto::EventBook) -> Vec<u32> {
    book.pages.iter().filter_map(page_sequence).collect()
}

#[tokio::test]
async fn windows_are_from_inclusive_to_exclusive() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = cart_with(&app, 5).await;
    let path = |query: &str| format!("/v1/events/cart/{cart}{query}");

    let cases: [(&str, &[u32], u32); 8] = [
        ("", &[0, 1, 2, 3, 4], 5),
        ("?from=0", &[0, 1, 2, 3, 4], 5),
        ("?from=2", &[2, 3, 4], 5),
        ("?from=1&to=3", &[1, 2], 3),
        ("?to=1", &[0], 1),
        ("?from=3&to=3", &[], 3),
        ("?from=4&to=2", &[], 4),
        ("?from=5", &[], 5),
    ];
    for (query, expected, expected_next) in cases {
        let (book, next) = poll_protobuf(&app, &path(query)).await;
        assert_eq!(sequences(&book), expected, "{query}");
        assert_eq!(next, expected_next, "{query}");
        // The book always says where the aggregate is.
        assert_eq!(book.next_sequence, 5, "{query}");
        assert_eq!(book.cover.as_ref().unwrap().domain, "cart");
    }
    // Beyond the end: nothing, and `next` stays where the client asked.
    let (book, next) = poll_protobuf(&app, &path("?from=9")).await;
    assert!(book.pages.is_empty());
    assert_eq!(next, 9);
}

#[tokio::test]
async fn polling_with_next_sees_only_what_is_new() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = cart_with(&app, 2).await;

    let response = send(
        &app,
        get(&format!("/v1/events/cart/{cart}"), "application/json"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[NEXT_HEADER], "2");
    let answer = json(response).await;
    assert_eq!(answer["next"], 2);
    assert_eq!(answer["book"]["pages"].as_array().unwrap().len(), 2);

    // Nothing new yet.
    let answer = json(
        send(
            &app,
            get(
                &format!("/v1/events/cart/{cart}?from=2"),
                "application/json",
            ),
        )
        .await,
    )
    .await;
    assert!(answer["book"]["pages"].is_null(), "{answer}");
    assert_eq!(answer["next"], 2);

    // One more event; the next poll returns just it.
    run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "late".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ),
    )
    .await;
    let answer = json(
        send(
            &app,
            get(
                &format!("/v1/events/cart/{cart}?from=2"),
                "application/json",
            ),
        )
        .await,
    )
    .await;
    let pages = answer["book"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["header"]["sequence"], 2);
    assert_eq!(pages[0]["event"]["sku"], "late");
    assert_eq!(answer["next"], 3);
    assert_eq!(answer["book"]["nextSequence"], 3);
}

#[tokio::test]
async fn limit_pages_through_a_long_history() {
    let shop = Shop::in_memory();
    let app = builder(&shop).events_page_limit(3).build().unwrap();
    let cart = cart_with(&app, 7).await;

    // The configured limit caps every answer; `next` walks the history.
    let mut from = 0;
    let mut seen = Vec::new();
    let mut polls = 0;
    loop {
        let (book, next) =
            poll_protobuf(&app, &format!("/v1/events/cart/{cart}?from={from}")).await;
        polls += 1;
        assert!(book.pages.len() <= 3);
        if book.pages.is_empty() {
            assert_eq!(next, from);
            break;
        }
        seen.extend(sequences(&book));
        from = next;
    }
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    assert_eq!(polls, 4);

    // A smaller limit per request; a larger one is capped.
    let (book, next) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}?from=1&limit=2")).await;
    assert_eq!((sequences(&book), next), (vec![1, 2], 3));
    let (book, _) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}?limit=100")).await;
    assert_eq!(sequences(&book), [0, 1, 2]);
    // `to` below the limit wins.
    let (book, next) =
        poll_protobuf(&app, &format!("/v1/events/cart/{cart}?from=2&to=4&limit=3")).await;
    assert_eq!((sequences(&book), next), (vec![2, 3], 4));
}

#[tokio::test]
async fn an_unknown_aggregate_has_no_events() {
    let app = gateway(&Shop::in_memory());
    let (book, next) =
        poll_protobuf(&app, &format!("/v1/events/cart/{}", uuid::Uuid::new_v4())).await;
    assert!(book.pages.is_empty());
    assert_eq!((book.next_sequence, next), (0, 0));
}

#[tokio::test]
async fn json_of_unregistered_event_types_is_500_but_protobuf_works() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = cart_with(&app, 1).await;
    // A gateway that does not know the shop's types cannot write its events as JSON...
    let bare = Gateway::builder(shop.coordinator.clone(), shop.queries.clone())
        .build()
        .unwrap();
    let message = expect_error(
        send(
            &bare,
            get(&format!("/v1/events/cart/{cart}"), "application/json"),
        )
        .await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;
    assert!(message.contains("application/x-protobuf"), "{message}");
    // ...but serves them as protobuf.
    let (book, next) = poll_protobuf(&bare, &format!("/v1/events/cart/{cart}")).await;
    assert_eq!((types(&book), next), (vec!["shop.ItemAdded".to_owned()], 1));
}
