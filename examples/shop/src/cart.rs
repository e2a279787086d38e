//! The `cart` aggregate: items are added and removed until checkout.

use angzarr_runtime::authoring::{AggregateLogic, event, reject};

use crate::proto::{
    AddItem, CartState, CheckedOut, Checkout, ItemAdded, ItemRemoved, LineItem, RemoveItem,
};

/// The cart's domain name.
pub const DOMAIN: &str = "cart";

/// The cart's command handler.
pub fn logic() -> AggregateLogic<CartState> {
    AggregateLogic::new(DOMAIN)
        .apply(|cart: &mut CartState, e: ItemAdded| {
            let line = cart.items.entry(e.sku.clone()).or_insert(LineItem {
                sku: e.sku,
                quantity: 0,
                unit_price_cents: e.unit_price_cents,
            });
            line.quantity += e.quantity;
            line.unit_price_cents = e.unit_price_cents;
        })
        .apply(|cart: &mut CartState, e: ItemRemoved| {
            cart.items.remove(&e.sku);
        })
        .apply(|cart: &mut CartState, _: CheckedOut| cart.checked_out = true)
        .handle(|cart: &CartState, c: AddItem| {
            if cart.checked_out {
                return Err(reject("the cart is checked out"));
            }
            if c.quantity == 0 || c.sku.is_empty() {
                return Err(reject("an item needs a sku and a quantity"));
            }
            Ok(vec![event(&ItemAdded {
                sku: c.sku,
                quantity: c.quantity,
                unit_price_cents: c.unit_price_cents,
            })])
        })
        .handle(|cart: &CartState, c: RemoveItem| {
            if cart.checked_out {
                return Err(reject("the cart is checked out"));
            }
            if !cart.items.contains_key(&c.sku) {
                return Err(reject(format!("`{}` is not in the cart", c.sku)));
            }
            Ok(vec![event(&ItemRemoved { sku: c.sku })])
        })
        .handle(|cart: &CartState, c: Checkout| {
            if cart.checked_out {
                return Err(reject("the cart is already checked out"));
            }
            if cart.items.is_empty() {
                return Err(reject("an empty cart cannot be checked out"));
            }
            if uuid::Uuid::parse_str(&c.order_id).is_err() {
                return Err(reject("the order id must be a UUID"));
            }
            let items: Vec<LineItem> = cart.items.values().cloned().collect();
            Ok(vec![event(&CheckedOut {
                order_id: c.order_id,
                total_cents: crate::total_cents(&items),
                items,
            })])
        })
}
