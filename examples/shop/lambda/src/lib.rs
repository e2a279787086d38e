//! # angzarr-example-shop-lambda
//!
//! The shop example (`angzarr-example-shop`) on AWS Lambda, written the way
//! a team writes its own application: the `cart`, `order` and `fulfillment`
//! aggregates, the `checkout` and `fulfillment` sagas and the
//! `order-summary` projector as one [`Application`], served by
//! [`angzarr_lambda::run_with`] in each of the four functions (`src/bin/`).
//!
//! A Lambda function keeps nothing between cold starts, so the read model
//! cannot live in process as the example's in-memory projector keeps it:
//! with DynamoDB storage the `order-summary` projector here keeps each
//! summary as one item of a DynamoDB table ([`OrderSummaryTable`], named by
//! [`READ_MODEL_TABLE_VAR`]), folding each book into the stored summary with
//! a conditional write. With memory storage the example's in-memory
//! projector is used (one process only).

use std::sync::Arc;

use angzarr_core::Result;
use angzarr_example_shop::{cart, fulfillment, order, sagas};
use angzarr_gateway::TypeRegistry;
use angzarr_host::{Application, Types};
use angzarr_lambda::Adapters;

pub mod read_model;

pub use read_model::OrderSummaryTable;

/// The variable naming the read model's DynamoDB table.
pub const READ_MODEL_TABLE_VAR: &str = "SHOP_READ_MODEL_TABLE";
/// The read model's table when [`READ_MODEL_TABLE_VAR`] is unset.
pub const DEFAULT_READ_MODEL_TABLE: &str = "angzarr-order-summaries";

/// The `angzarr` contract and the shop's messages, for the JSON API.
pub fn types() -> Result<TypeRegistry> {
    let mut registry = TypeRegistry::new();
    registry.add_encoded(angzarr_example_shop::proto::FILE_DESCRIPTOR_SET)?;
    Ok(registry)
}

/// The shop, wired for the functions.
pub fn application(adapters: &Adapters) -> Result<Application> {
    Ok(Application::new()
        .aggregate(cart::DOMAIN, Arc::new(cart::logic()))
        .aggregate(order::DOMAIN, Arc::new(order::logic()))
        .aggregate(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
        .saga(Arc::new(sagas::checkout()), [cart::DOMAIN])
        .saga(Arc::new(sagas::fulfillment()), [order::DOMAIN])
        .projector(
            summary_projector(adapters),
            [order::DOMAIN, fulfillment::DOMAIN],
        )
        // Built by the gateway only, so the other roles' cold starts skip it.
        .types(Types::Lazy(types)))
}

fn summary_projector(adapters: &Adapters) -> Arc<dyn angzarr_runtime::Projector> {
    match &adapters.host.dynamodb {
        Some(dynamodb) => Arc::new(OrderSummaryTable::new(
            dynamodb.client().clone(),
            std::env::var(READ_MODEL_TABLE_VAR)
                .unwrap_or_else(|_| DEFAULT_READ_MODEL_TABLE.to_owned()),
        )),
        None => {
            tracing::warn!("the order-summary read model is kept in this process only");
            Arc::new(angzarr_example_shop::summary::projector(
                &angzarr_example_shop::summary::OrderSummaries::default(),
            ))
        }
    }
}
