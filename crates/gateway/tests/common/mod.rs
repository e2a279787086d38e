//! Helpers shared by the gateway's tests: the shop on the memory backends
//! behind the gateway, and requests in both encodings.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, SyncMode};
use angzarr_example_shop::Shop;
use angzarr_gateway::{Gateway, GatewayBuilder, PROTOBUF, TypeRegistry};
use angzarr_runtime::authoring::command;
use axum::Router;
use axum::body::Body;
use base64::Engine;
use http::{Request, Response, StatusCode, header};
use prost::{Message, Name};
use tower::ServiceExt;

/// The shop's message types, from the descriptors the shop crate compiled.
pub fn shop_types() -> TypeRegistry {
    let mut registry = TypeRegistry::new();
    registry
        .add_encoded(angzarr_example_shop::proto::FILE_DESCRIPTOR_SET)
        .unwrap();
    registry
}

/// A builder for a gateway in front of `shop`, knowing the shop's types.
pub fn builder(shop: &Shop) -> GatewayBuilder {
    Gateway::builder(shop.coordinator.clone(), shop.queries.clone()).types(shop_types())
}

/// A gateway in front of `shop` with the default settings.
pub fn gateway(shop: &Shop) -> Router {
    builder(shop).build().unwrap()
}

/// Sends one request to `app`.
pub async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

/// The whole body of a response.
pub async fn body(response: Response<Body>) -> bytes::Bytes {
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
}

/// The JSON body of a response.
pub async fn json(response: Response<Body>) -> serde_json::Value {
    let bytes = body(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// Asserts a JSON error answer of `status` and `code`; returns its message.
pub async fn expect_error(response: Response<Body>, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "errors are JSON"
    );
    let body = json(response).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

/// A request of one command for `domain`/`root`.
pub fn request<M: Name>(domain: &str, root: uuid::Uuid, message: &M) -> CommandRequest {
    CommandRequest {
        command: Some(command(domain, root, "corr-gateway", message)),
        sync_mode: SyncMode::Async as i32,
        cascade_error_mode: 0,
        ..Default::default()
    }
}

/// `POST /v1/commands` with a protobuf body.
pub fn post_protobuf(request: &CommandRequest) -> Request<Body> {
    post_raw(PROTOBUF, request.encode_to_vec())
}

/// `POST /v1/commands` with a JSON body.
pub fn post_json(body: &serde_json::Value) -> Request<Body> {
    post_raw("application/json", body.to_string().into_bytes())
}

/// `POST /v1/commands` with any content type and body.
pub fn post_raw(content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/commands")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

/// `GET` a path, accepting `accept`.
pub fn get(path: &str, accept: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap()
}

/// Runs a protobuf command and decodes the 200 answer.
pub async fn run_protobuf(app: &Router, request: &CommandRequest) -> CommandResponse {
    let response = send(app, post_protobuf(request)).await;
    let status = response.status();
    let bytes = body(response).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    CommandResponse::decode(bytes).unwrap()
}

/// Runs a JSON command and returns the 200 JSON answer.
pub async fn run_json(app: &Router, body: serde_json::Value) -> serde_json::Value {
    let response = send(app, post_json(&body)).await;
    let status = response.status();
    let answer = json(response).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// A root in the protobuf JSON mapping: base64 of its 16 bytes.
pub fn root_json(root: uuid::Uuid) -> String {
    base64::engine::general_purpose::STANDARD.encode(root.as_bytes())
}

/// A JSON command request of one command `command` (with its `@type`).
pub fn json_command(
    domain: &str,
    root: uuid::Uuid,
    command: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "command": {
            "cover": { "root": { "value": root_json(root) }, "domain": domain, "correlationId": "corr-json" },
            "pages": [ { "command": command } ]
        },
        "syncMode": "SYNC_MODE_ASYNC"
    })
}

/// `GET /v1/events/...` as protobuf: the book and the `next` header.
pub async fn poll_protobuf(app: &Router, path: &str) -> (EventBook, u32) {
    let response = send(app, get(path, PROTOBUF)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROTOBUF);
    let next = response.headers()[angzarr_gateway::NEXT_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (EventBook::decode(body(response).await).unwrap(), next)
}

/// The `@type` names of a JSON event book's pages.
pub fn json_types(book: &serde_json::Value) -> Vec<String> {
    book["pages"]
        .as_array()
        .map(|pages| {
            pages
                .iter()
                .map(|p| p["event"]["@type"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The type names of a book's pages.
pub fn types(book: &EventBook) -> Vec<String> {
    book.pages
        .iter()
        .map(|p| match &p.payload {
            Some(angzarr_core::proto::event_page::Payload::Event(e)) => {
                angzarr_core::any::type_name(&e.type_url).to_owned()
            }
            other => panic!("unexpected payload {other:?}"),
        })
        .collect()
}

/// The shop in an `Arc`, for tests that need it beside the gateway.
pub fn shop() -> Arc<Shop> {
    Arc::new(Shop::in_memory())
}
