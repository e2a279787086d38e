//! The `fulfillment` aggregate: one shipment per order, sharing the order's root.

use angzarr_runtime::authoring::{AggregateLogic, event, reject};

use crate::proto::{CreateShipment, Ship, ShipmentCreated, ShipmentState, Shipped};

/// The fulfillment's domain name.
pub const DOMAIN: &str = "fulfillment";

/// The fulfillment's command handler.
pub fn logic() -> AggregateLogic<ShipmentState> {
    AggregateLogic::new(DOMAIN)
        .apply(|shipment: &mut ShipmentState, _: ShipmentCreated| shipment.created = true)
        .apply(|shipment: &mut ShipmentState, _: Shipped| shipment.shipped = true)
        .handle(|shipment: &ShipmentState, c: CreateShipment| {
            if shipment.created {
                return Err(reject("the shipment already exists"));
            }
            Ok(vec![event(&ShipmentCreated {
                order_id: c.order_id,
                items: c.items,
            })])
        })
        .handle(|shipment: &ShipmentState, c: Ship| {
            if !shipment.created {
                return Err(reject("there is no shipment to ship"));
            }
            if shipment.shipped {
                return Err(reject("the shipment has already shipped"));
            }
            Ok(vec![event(&Shipped {
                carrier: c.carrier,
                tracking_number: c.tracking_number,
            })])
        })
}
