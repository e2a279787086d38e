//! The `order-summary` projector: a read model of orders and their status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use angzarr_runtime::authoring::{EventContext, ProjectorLogic, event};

use crate::proto::{
    OrderCancelled, OrderPaid, OrderPlaced, OrderStatus, OrderSummary, ShipmentCreated, Shipped,
};

/// The read model: one summary per order id.
#[derive(Clone, Debug, Default)]
pub struct OrderSummaries {
    orders: Arc<Mutex<BTreeMap<String, OrderSummary>>>,
}

impl OrderSummaries {
    /// The summary of `order_id`, if the order is known.
    pub fn get(&self, order_id: &str) -> Option<OrderSummary> {
        self.lock().get(order_id).cloned()
    }

    /// Every summary, by order id.
    pub fn all(&self) -> Vec<OrderSummary> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OrderSummary>> {
        self.orders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, context: &EventContext, change: impl FnOnce(&mut OrderSummary)) {
        let order_id = context.key.root.to_string();
        let mut orders = self.lock();
        let summary = orders
            .entry(order_id.clone())
            .or_insert_with(|| OrderSummary {
                order_id,
                ..Default::default()
            });
        change(summary);
    }
}

/// Moves `summary`'s status to `status` unless it is further along already.
/// An order's books and its shipment's come on different topics, so their
/// order of arrival is not the order of the events: a late `OrderPaid` must
/// not take a fulfilling order back to paid. The statuses are numbered in
/// the order's lifecycle (placed, paid, cancelled, fulfilling, shipped).
fn advance(summary: &mut OrderSummary, status: OrderStatus) {
    summary.status = summary.status.max(status as i32);
}

/// The projector, writing into `summaries`. Orders and their shipments share
/// a root, so both update the same summary; the status only moves forward.
pub fn projector(summaries: &OrderSummaries) -> ProjectorLogic {
    let (placed, paid, cancelled, created, shipped, output) = (
        summaries.clone(),
        summaries.clone(),
        summaries.clone(),
        summaries.clone(),
        summaries.clone(),
        summaries.clone(),
    );
    ProjectorLogic::new("order-summary")
        .on(move |context, e: OrderPlaced| {
            placed.update(context, |s| {
                advance(s, OrderStatus::Placed);
                s.total_cents = e.total_cents;
                s.item_count = e.items.iter().map(|i| i.quantity).sum();
            });
            Ok(())
        })
        .on(move |context, _: OrderPaid| {
            paid.update(context, |s| advance(s, OrderStatus::Paid));
            Ok(())
        })
        .on(move |context, _: OrderCancelled| {
            cancelled.update(context, |s| advance(s, OrderStatus::Cancelled));
            Ok(())
        })
        .on(move |context, _: ShipmentCreated| {
            created.update(context, |s| advance(s, OrderStatus::Fulfilling));
            Ok(())
        })
        .on(move |context, e: Shipped| {
            shipped.update(context, |s| {
                advance(s, OrderStatus::Shipped);
                s.tracking_number = e.tracking_number;
            });
            Ok(())
        })
        .projection(move |context| {
            output
                .get(&context.key.root.to_string())
                .map(|summary| event(&summary))
        })
}
