//! # angzarr-example-shop-cloudrun
//!
//! The shop example (`angzarr-example-shop`) on Cloud Run, written the way a
//! team writes its own service: the `cart`, `order` and `fulfillment`
//! aggregates, the `checkout` and `fulfillment` sagas and the
//! `order-summary` projector, plus a small query API over the projector's
//! read model, served by [`angzarr_cloudrun::run`] (`src/main.rs`).

use std::sync::Arc;

use angzarr_example_shop::proto::OrderSummary;
use angzarr_example_shop::summary::{self, OrderSummaries};
use angzarr_example_shop::{cart, fulfillment, order, sagas};
use angzarr_gateway::TypeRegistry;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use angzarr_cloudrun::Handlers;

/// The encoded `FileDescriptorSet` of the shop's messages (`shop.*`).
pub const SHOP_FILE_DESCRIPTOR_SET: &[u8] = angzarr_example_shop::proto::FILE_DESCRIPTOR_SET;

/// The path of one order's summary.
pub const SUMMARY_PATH: &str = "/v1/read-models/order-summary/{order_id}";

/// The shop's handlers, with the `order-summary` projector writing into
/// `summaries` (in process memory: each projector instance keeps its own —
/// run one instance of the projector trigger, or give the projector a
/// database). The read model is served at
/// `GET /v1/read-models/order-summary[/{order_id}]` wherever the projector runs.
pub fn handlers(summaries: &OrderSummaries) -> angzarr_core::Result<Handlers> {
    let mut types = TypeRegistry::new();
    types.add_encoded(SHOP_FILE_DESCRIPTOR_SET)?;
    let routes = Router::new()
        .route("/v1/read-models/order-summary", get(list))
        .route(SUMMARY_PATH, get(one))
        .with_state(summaries.clone());
    Ok(Handlers::new()
        .aggregate(cart::DOMAIN, Arc::new(cart::logic()))
        .aggregate(order::DOMAIN, Arc::new(order::logic()))
        .aggregate(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
        .sync_projector(
            Arc::new(summary::projector(summaries)),
            [order::DOMAIN, fulfillment::DOMAIN],
        )
        .saga(Arc::new(sagas::checkout()), [cart::DOMAIN])
        .saga(Arc::new(sagas::fulfillment()), [order::DOMAIN])
        .types(types)
        .projector_routes(routes))
}

/// An order summary as JSON.
pub fn summary_json(summary: &OrderSummary) -> serde_json::Value {
    serde_json::json!({
        "order_id": summary.order_id,
        "status": summary.status().as_str_name(),
        "total_cents": summary.total_cents,
        "item_count": summary.item_count,
        "tracking_number": summary.tracking_number,
    })
}

async fn one(State(summaries): State<OrderSummaries>, Path(order_id): Path<String>) -> Response {
    match summaries.get(&order_id) {
        Some(summary) => axum::Json(summary_json(&summary)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({
                "error": { "code": "not_found", "message": format!("no order `{order_id}`") }
            })),
        )
            .into_response(),
    }
}

async fn list(State(summaries): State<OrderSummaries>) -> Response {
    let all: Vec<_> = summaries.all().iter().map(summary_json).collect();
    axum::Json(serde_json::json!({ "orders": all })).into_response()
}
