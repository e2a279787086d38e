//! Every kind of bad input gets a clear JSON error with the right status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::proto::{CommandPage, CommandRequest, Uuid as ProtoUuid};
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::AddItem;
use angzarr_gateway::{Gateway, PROTOBUF};
use axum::body::Body;
use common::*;
use http::{Request, StatusCode, header};
use serde_json::json;

fn add() -> AddItem {
    AddItem {
        sku: "apple".into(),
        quantity: 1,
        unit_price_cents: 50,
    }
}

#[tokio::test]
async fn malformed_protobuf_is_400() {
    let app = gateway(&Shop::in_memory());
    let response = send(&app, post_raw(PROTOBUF, vec![0xff, 0xff, 0xff, 0x01])).await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;
    assert!(message.contains("malformed protobuf"), "{message}");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = gateway(&Shop::in_memory());
    let cart = uuid::Uuid::new_v4();

    let response = send(
        &app,
        post_raw("application/json", b"{\"command\": ".to_vec()),
    )
    .await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;
    assert!(message.contains("malformed JSON"), "{message}");

    // Trailing garbage after a valid document.
    let mut bytes = json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "a", "quantity": 1}),
    )
    .to_string()
    .into_bytes();
    bytes.extend_from_slice(b" }");
    let response = send(&app, post_raw("application/json", bytes)).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;

    // A field the message does not have.
    let response = send(&app, post_json(&json!({"commandd": {}}))).await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;
    assert!(message.contains("commandd"), "{message}");

    // A field of the wrong kind.
    let response = send(&app, post_json(&json!({"syncMode": "NOT_A_MODE"}))).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;

    // A root that is not base64.
    let response = send(
        &app,
        post_json(&json!({"command": {"cover": {"root": {"value": "%%%"}, "domain": "cart"}}})),
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_argument").await;
}

#[tokio::test]
async fn a_json_command_of_an_unregistered_type_is_400() {
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    let body = json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "a", "quantity": 1}),
    );
    // A gateway that was not given the shop's types.
    let bare = Gateway::builder(shop.coordinator.clone(), shop.queries.clone())
        .build()
        .unwrap();
    let message = expect_error(
        send(&bare, post_json(&body)).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("shop.AddItem"), "{message}");

    // A type nobody knows.
    let app = gateway(&shop);
    let body = json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.Teleport", "to": "mars"}),
    );
    let message = expect_error(
        send(&app, post_json(&body)).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("shop.Teleport"), "{message}");
}

#[tokio::test]
async fn a_missing_cover_is_400() {
    let app = gateway(&Shop::in_memory());
    let mut request = request("cart", uuid::Uuid::new_v4(), &add());
    request.command.as_mut().unwrap().cover = None;
    let message = expect_error(
        send(&app, post_protobuf(&request)).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("no cover"), "{message}");

    let body = json!({"command": {"pages": [{"command": {"@type": "type.googleapis.com/shop.AddItem", "sku": "a", "quantity": 1}}]}});
    let message = expect_error(
        send(&app, post_json(&body)).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("no cover"), "{message}");
}

#[tokio::test]
async fn incomplete_commands_are_400() {
    let app = gateway(&Shop::in_memory());
    let root = uuid::Uuid::new_v4();
    let cases: Vec<(CommandRequest, &str)> = vec![
        (CommandRequest::default(), "no command"),
        (
            {
                let mut r = request("cart", root, &add());
                r.command.as_mut().unwrap().cover.as_mut().unwrap().domain = String::new();
                r
            },
            "no domain",
        ),
        (
            {
                let mut r = request("cart", root, &add());
                r.command.as_mut().unwrap().cover.as_mut().unwrap().root = None;
                r
            },
            "no root",
        ),
        (
            {
                let mut r = request("cart", root, &add());
                r.command.as_mut().unwrap().cover.as_mut().unwrap().root = Some(ProtoUuid {
                    value: vec![1, 2, 3],
                });
                r
            },
            "16 bytes",
        ),
        (
            {
                let mut r = request("cart", root, &add());
                r.command.as_mut().unwrap().pages.clear();
                r
            },
            "no pages",
        ),
        (
            {
                let mut r = request("cart", root, &add());
                r.command.as_mut().unwrap().pages = vec![CommandPage::default()];
                r
            },
            "no command payload",
        ),
    ];
    for (request, expected) in cases {
        let message = expect_error(
            send(&app, post_protobuf(&request)).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        assert!(message.contains(expected), "{expected}: {message}");
    }
}

#[tokio::test]
async fn an_unknown_domain_is_400() {
    let shop = Shop::in_memory();
    // The in-process coordinator knows no `warehouse`.
    let app = gateway(&shop);
    let request = request("warehouse", uuid::Uuid::new_v4(), &add());
    let message = expect_error(
        send(&app, post_protobuf(&request)).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("warehouse"), "{message}");

    // A gateway limited to some domains refuses the others before routing,
    // for commands and for polls.
    let app = builder(&shop).domains(["order"]).build().unwrap();
    let cart = uuid::Uuid::new_v4();
    let message = expect_error(
        send(&app, post_protobuf(&self::request("cart", cart, &add()))).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("unknown domain `cart`"), "{message}");
    let message = expect_error(
        send(
            &app,
            get(&format!("/v1/events/cart/{cart}"), "application/json"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert!(message.contains("unknown domain `cart`"), "{message}");
    // Nothing reached the aggregate.
    let gateway_all = gateway(&shop);
    let (book, _) = poll_protobuf(&gateway_all, &format!("/v1/events/cart/{cart}")).await;
    assert!(book.pages.is_empty());
}

#[tokio::test]
async fn an_unsupported_content_type_is_415() {
    let app = gateway(&Shop::in_memory());
    let body = request("cart", uuid::Uuid::new_v4(), &add());
    let response = send(
        &app,
        post_raw("text/plain", prost::Message::encode_to_vec(&body)),
    )
    .await;
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let no_type = Request::post("/v1/commands")
        .body(Body::from(prost::Message::encode_to_vec(&body)))
        .unwrap();
    let message = expect_error(
        send(&app, no_type).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(message.contains("no Content-Type"), "{message}");

    // Parameters are allowed.
    let response = send(
        &app,
        post_raw(
            "application/json; charset=utf-8",
            json_command(
                "cart",
                uuid::Uuid::new_v4(),
                json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "a", "quantity": 1}),
            )
            .to_string()
            .into_bytes(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unacceptable_accept_is_406() {
    let app = gateway(&Shop::in_memory());
    let mut request = post_protobuf(&request("cart", uuid::Uuid::new_v4(), &add()));
    request
        .headers_mut()
        .insert(header::ACCEPT, "text/html".parse().unwrap());
    expect_error(
        send(&app, request).await,
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
    )
    .await;

    let path = format!("/v1/events/cart/{}", uuid::Uuid::new_v4());
    expect_error(
        send(&app, get(&path, "image/png")).await,
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
    )
    .await;
    // A wildcard is fine (JSON).
    let response = send(&app, get(&path, "*/*")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let shop = Shop::in_memory();
    let app = builder(&shop).max_body_bytes(256).build().unwrap();
    let cart = uuid::Uuid::new_v4();
    let big = request(
        "cart",
        cart,
        &AddItem {
            sku: "x".repeat(1000),
            quantity: 1,
            unit_price_cents: 1,
        },
    );
    let bytes = prost::Message::encode_to_vec(&big);
    assert!(bytes.len() > 256);

    // With a Content-Length: refused before the body is read.
    let response = send(&app, post_raw(PROTOBUF, bytes.clone())).await;
    let message = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded").await;
    assert!(message.contains("256"), "{message}");

    // Streamed without a length: cut off while reading.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
        .chunks(100)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let streamed = Request::post("/v1/commands")
        .header(header::CONTENT_TYPE, PROTOBUF)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    assert!(streamed.headers().get(header::CONTENT_LENGTH).is_none());
    let response = send(&app, streamed).await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded").await;

    // JSON too.
    let body = json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "y".repeat(1000), "quantity": 1}),
    );
    expect_error(
        send(&app, post_json(&body)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit_exceeded",
    )
    .await;

    // Nothing was stored; a small command still passes.
    let small = request("cart", cart, &add());
    run_protobuf(&app, &small).await;
    let (book, _) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert_eq!(types(&book), ["shop.ItemAdded"]);
}

#[tokio::test]
async fn bad_polls_are_400() {
    let app = gateway(&Shop::in_memory());
    let root = uuid::Uuid::new_v4();
    for (path, expected) in [
        ("/v1/events/cart/not-a-uuid".to_owned(), "not a UUID"),
        (
            format!("/v1/events/cart/{root}?from=abc"),
            "bad query string",
        ),
        (
            format!("/v1/events/cart/{root}?from=-1"),
            "bad query string",
        ),
        (format!("/v1/events/cart/{root}?form=1"), "bad query string"),
        (format!("/v1/events/cart/{root}?limit=0"), "limit"),
        (format!("/v1/events/a%23b/{root}"), "#"),
    ] {
        let message = expect_error(
            send(&app, get(&path, "application/json")).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        )
        .await;
        assert!(message.contains(expected), "{path}: {message}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let app = gateway(&Shop::in_memory());
    expect_error(
        send(&app, get("/v1/nothing", "application/json")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let put = Request::put("/v1/commands").body(Body::empty()).unwrap();
    expect_error(
        send(&app, put).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let get_commands = get("/v1/commands", "application/json");
    expect_error(
        send(&app, get_commands).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}
