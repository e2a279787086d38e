//! The `order` aggregate: placed, then paid (or cancelled).

use angzarr_runtime::authoring::{AggregateLogic, event, reject};

use crate::proto::{
    Cancel, ConfirmPayment, OrderCancelled, OrderPaid, OrderPlaced, OrderState, OrderStatus,
    PlaceOrder,
};

/// The order's domain name.
pub const DOMAIN: &str = "order";

/// The order's command handler.
pub fn logic() -> AggregateLogic<OrderState> {
    AggregateLogic::new(DOMAIN)
        .apply(|order: &mut OrderState, e: OrderPlaced| {
            order.status = OrderStatus::Placed as i32;
            order.total_cents = e.total_cents;
            order.items = e.items;
        })
        .apply(|order: &mut OrderState, _: OrderPaid| order.status = OrderStatus::Paid as i32)
        .apply(|order: &mut OrderState, _: OrderCancelled| {
            order.status = OrderStatus::Cancelled as i32
        })
        .handle(|order: &OrderState, c: PlaceOrder| {
            if order.status() != OrderStatus::Unspecified {
                return Err(reject("the order was already placed"));
            }
            if c.items.is_empty() {
                return Err(reject("an order needs items"));
            }
            if crate::total_cents(&c.items) != c.total_cents {
                return Err(reject("the total does not match the items"));
            }
            Ok(vec![event(&OrderPlaced {
                cart_id: c.cart_id,
                items: c.items,
                total_cents: c.total_cents,
            })])
        })
        .handle(|order: &OrderState, c: ConfirmPayment| {
            match order.status() {
                OrderStatus::Placed => {}
                OrderStatus::Paid => return Err(reject("the order is already paid")),
                _ => return Err(reject("only a placed order can be paid")),
            }
            if c.amount_cents != order.total_cents {
                return Err(reject(format!(
                    "payment of {} does not match the total of {}",
                    c.amount_cents, order.total_cents
                )));
            }
            Ok(vec![event(&OrderPaid {
                payment_id: c.payment_id,
                amount_cents: c.amount_cents,
                items: order.items.clone(),
            })])
        })
        .handle(|order: &OrderState, c: Cancel| match order.status() {
            OrderStatus::Placed => Ok(vec![event(&OrderCancelled { reason: c.reason })]),
            OrderStatus::Cancelled => Err(reject("the order is already cancelled")),
            _ => Err(reject("only a placed, unpaid order can be cancelled")),
        })
}
