//! The shop's sagas.

use angzarr_core::Error;
use angzarr_runtime::authoring::{SagaLogic, command};

use crate::proto::{CheckedOut, CreateShipment, OrderPaid, PlaceOrder};
use crate::{fulfillment, order};

/// `checkout`: a checked-out cart places its order.
pub fn checkout() -> SagaLogic {
    SagaLogic::new("checkout").on(|source, e: CheckedOut| {
        let order_root = uuid::Uuid::parse_str(&e.order_id)
            .map_err(|_| Error::invalid_argument("CheckedOut carries a bad order id"))?;
        Ok(vec![command(
            order::DOMAIN,
            order_root,
            &source.correlation_id,
            &PlaceOrder {
                cart_id: source.key.root.to_string(),
                items: e.items,
                total_cents: e.total_cents,
            },
        )])
    })
}

/// `fulfillment`: a paid order gets a shipment (with the order's root).
pub fn fulfillment() -> SagaLogic {
    SagaLogic::new("fulfillment").on(|source, e: OrderPaid| {
        Ok(vec![command(
            fulfillment::DOMAIN,
            source.key.root,
            &source.correlation_id,
            &CreateShipment {
                order_id: source.key.root.to_string(),
                items: e.items,
            },
        )])
    })
}
