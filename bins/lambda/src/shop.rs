//! The shop example (`angzarr-example-shop`) as the functions' business
//! logic: the `cart`, `order` and `fulfillment` aggregates, the `checkout`
//! and `fulfillment` sagas, and the `order-summary` projector.
//!
//! A Lambda function keeps nothing between cold starts, so the read model
//! cannot live in process as the example's in-memory projector keeps it:
//! with the `lambda` feature the `order-summary` projector here keeps each
//! summary as one item of a DynamoDB table ([`OrderSummaryTable`]), folding
//! each book into the stored summary with a conditional write. Without the
//! feature the example's in-memory projector is used (one process only).

use std::sync::Arc;

use angzarr_core::Result;
use angzarr_example_shop::{cart, fulfillment, order, sagas};
use angzarr_gateway::TypeRegistry;

use crate::adapters::Adapters;
use crate::logic::Logic;

/// The shop's messages as a file descriptor set (protobuf), for JSON.
pub const SHOP_FILE_DESCRIPTOR_SET: &[u8] = angzarr_example_shop::proto::FILE_DESCRIPTOR_SET;

/// The `angzarr` contract and the shop's messages.
pub fn types() -> Result<TypeRegistry> {
    let mut registry = TypeRegistry::new();
    registry.add_encoded(SHOP_FILE_DESCRIPTOR_SET)?;
    Ok(registry)
}

/// The shop, wired for the functions.
pub fn logic(adapters: &Adapters) -> Result<Logic> {
    let logic = Logic::new()
        .aggregate(cart::DOMAIN, Arc::new(cart::logic()))
        .aggregate(order::DOMAIN, Arc::new(order::logic()))
        .aggregate(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
        .saga(Arc::new(sagas::checkout()), &[cart::DOMAIN])
        .saga(Arc::new(sagas::fulfillment()), &[order::DOMAIN])
        .types(types);
    Ok(logic.projector(
        summary_projector(adapters)?,
        &[order::DOMAIN, fulfillment::DOMAIN],
    ))
}

#[cfg(feature = "lambda")]
fn summary_projector(adapters: &Adapters) -> Result<Arc<dyn angzarr_runtime::Projector>> {
    match &adapters.dynamodb {
        Some(dynamodb) => Ok(Arc::new(read_model::OrderSummaryTable::new(
            dynamodb.client().clone(),
            adapters.lambda.read_model_table.clone(),
        ))),
        None => Ok(in_memory_projector()),
    }
}

#[cfg(not(feature = "lambda"))]
fn summary_projector(_adapters: &Adapters) -> Result<Arc<dyn angzarr_runtime::Projector>> {
    Ok(in_memory_projector())
}

fn in_memory_projector() -> Arc<dyn angzarr_runtime::Projector> {
    tracing::warn!("the order-summary read model is kept in this process only");
    Arc::new(angzarr_example_shop::summary::projector(
        &angzarr_example_shop::summary::OrderSummaries::default(),
    ))
}

#[cfg(feature = "lambda")]
pub mod read_model;
