//! The `order-summary` read model on DynamoDB: one item per order,
//! `pk` = the order id (orders and their shipments share the root),
//! `summary` = the `shop.OrderSummary` protobuf, `status` its status name,
//! `version` a counter for the conditional write.
//!
//! Each book costs one consistent `GetItem` and one conditional `PutItem`
//! (again on a concurrent writer). Status only moves forward (placed → paid
//! → fulfilling → shipped; cancelled is final), so books of the two domains
//! may arrive in any order.

use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{EventBook, Projection};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, Result, any};
use angzarr_example_shop::proto::{
    OrderCancelled, OrderPaid, OrderPlaced, OrderStatus, OrderSummary, ShipmentCreated, Shipped,
};
use angzarr_runtime::Projector;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use prost::Message;

const BACKEND: &str = "dynamodb read model";
const ATTEMPTS: usize = 5;

/// The `order-summary` projector writing to a DynamoDB table.
#[derive(Clone, Debug)]
pub struct OrderSummaryTable {
    client: Client,
    table: String,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::unavailable(BACKEND, e.to_string())
}

/// How far along a status is; a book never moves a summary back.
fn rank(status: i32) -> u8 {
    match OrderStatus::try_from(status) {
        Ok(OrderStatus::Placed) => 1,
        Ok(OrderStatus::Paid) => 2,
        Ok(OrderStatus::Fulfilling) => 3,
        Ok(OrderStatus::Shipped) => 4,
        Ok(OrderStatus::Cancelled) => 5,
        _ => 0,
    }
}

fn advance(summary: &mut OrderSummary, status: OrderStatus) {
    if rank(status as i32) > rank(summary.status) {
        summary.status = status as i32;
    }
}

/// Folds `book` into `summary` (the same rules as the example's projector).
pub fn apply(summary: &mut OrderSummary, book: &EventBook) -> Result<()> {
    for page in &book.pages {
        let Some(Payload::Event(event)) = &page.payload else {
            continue;
        };
        if any::is::<OrderPlaced>(event) {
            let e: OrderPlaced = any::unpack(event)?;
            summary.total_cents = e.total_cents;
            summary.item_count = e.items.iter().map(|i| i.quantity).sum();
            advance(summary, OrderStatus::Placed);
        } else if any::is::<OrderPaid>(event) {
            advance(summary, OrderStatus::Paid);
        } else if any::is::<OrderCancelled>(event) {
            advance(summary, OrderStatus::Cancelled);
        } else if any::is::<ShipmentCreated>(event) {
            advance(summary, OrderStatus::Fulfilling);
        } else if any::is::<Shipped>(event) {
            let e: Shipped = any::unpack(event)?;
            summary.tracking_number = e.tracking_number;
            advance(summary, OrderStatus::Shipped);
        }
    }
    Ok(())
}

impl OrderSummaryTable {
    /// The read model in `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The summary of `order_id` and its version, if stored.
    pub async fn get(&self, order_id: &str) -> Result<Option<(OrderSummary, u64)>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let summary = match item.get("summary") {
            Some(AttributeValue::B(bytes)) => OrderSummary::decode(bytes.as_ref())
                .map_err(|e| Error::Corrupt(format!("order summary {order_id}: {e}")))?,
            _ => {
                return Err(Error::Corrupt(format!(
                    "order summary {order_id} has no data"
                )));
            }
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or_default(),
            _ => 0,
        };
        Ok(Some((summary, version)))
    }

    /// Writes `summary` if the stored version is still `version` (absent for 0).
    async fn put(&self, summary: &OrderSummary, version: u64) -> Result<bool> {
        let status = OrderStatus::try_from(summary.status)
            .map(|s| s.as_str_name().to_owned())
            .unwrap_or_default();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(summary.order_id.clone()))
            .item(
                "summary",
                AttributeValue::B(Blob::new(summary.encode_to_vec())),
            )
            .item("status", AttributeValue::S(status))
            .item("version", AttributeValue::N((version + 1).to_string()));
        request = if version == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }
}

#[async_trait]
impl Projector for OrderSummaryTable {
    fn name(&self) -> &str {
        "order-summary"
    }

    async fn handle(&self, book: EventBook) -> Result<Projection> {
        let key = AggregateKey::from_book(&book)?;
        let order_id = key.root.to_string();
        for _ in 0..ATTEMPTS {
            let (mut summary, version) = self.get(&order_id).await?.unwrap_or_else(|| {
                (
                    OrderSummary {
                        order_id: order_id.clone(),
                        ..Default::default()
                    },
                    0,
                )
            });
            apply(&mut summary, &book)?;
            if self.put(&summary, version).await? {
                return Ok(Projection {
                    cover: book.cover.clone(),
                    projector: self.name().to_owned(),
                    sequence: book
                        .pages
                        .iter()
                        .filter_map(page_sequence)
                        .max()
                        .unwrap_or_default(),
                    projection: Some(any::pack(&summary)),
                });
            }
        }
        Err(Error::unavailable(
            BACKEND,
            format!("order summary {order_id} kept changing under {ATTEMPTS} attempts"),
        ))
    }
}

/// Creates the read-model table (on-demand, `pk` string) if it is missing.
pub async fn create_table(client: &Client, table: &str) -> Result<()> {
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(unavailable)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(unavailable)?,
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use angzarr_core::proto::EventPage;

    fn book(events: Vec<prost_types::Any>) -> EventBook {
        EventBook {
            pages: events
                .into_iter()
                .map(|e| EventPage {
                    payload: Some(Payload::Event(e)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn status_only_moves_forward() {
        let mut summary = OrderSummary::default();
        apply(
            &mut summary,
            &book(vec![any::pack(&Shipped {
                carrier: "c".into(),
                tracking_number: "T1".into(),
            })]),
        )
        .unwrap();
        apply(&mut summary, &book(vec![any::pack(&OrderPaid::default())])).unwrap();
        assert_eq!(summary.status, OrderStatus::Shipped as i32);
        assert_eq!(summary.tracking_number, "T1");
        apply(
            &mut summary,
            &book(vec![any::pack(&OrderPlaced {
                total_cents: 150,
                ..Default::default()
            })]),
        )
        .unwrap();
        assert_eq!(summary.total_cents, 150);
        assert_eq!(summary.status, OrderStatus::Shipped as i32);
    }
}
