//! The shop's AWS deployment on moto: the platform's harness
//! (`bins/lambda/tests/support`) over this crate's own functions
//! (`shop-{role}`), plus the shop's DynamoDB read model.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../../../bins/lambda/tests/support/mod.rs"]
mod platform;

#[cfg(feature = "kinesis")]
pub mod kinesis;

pub use platform::*;

use angzarr_example_shop::proto::OrderSummary;
use angzarr_example_shop_lambda::READ_MODEL_TABLE_VAR;
use angzarr_example_shop_lambda::read_model::{OrderSummaryTable, create_table};

/// This crate's functions, with the read model's table named after the
/// deployment's `prefix`.
pub fn spec(prefix: &str) -> Spec {
    Spec::new(env!("CARGO_MANIFEST_DIR"), "shop-")
        .env(READ_MODEL_TABLE_VAR, read_model_table(prefix))
}

/// The read model's table of the deployment named `prefix`.
pub fn read_model_table(prefix: &str) -> String {
    format!("{prefix}-order-summaries")
}

impl Functions {
    /// Creates the read-model table (the tests create it late, to show a
    /// failing projector's records being retried).
    pub async fn create_read_model(&self) -> anyhow::Result<()> {
        create_table(self.dynamodb.client(), &read_model_table(&self.prefix)).await?;
        Ok(())
    }

    /// The order's summary in the read model.
    pub async fn summary(&self, order: uuid::Uuid) -> anyhow::Result<Option<OrderSummary>> {
        let table = OrderSummaryTable::new(
            self.dynamodb.client().clone(),
            read_model_table(&self.prefix),
        );
        Ok(table.get(&order.to_string()).await?.map(|(s, _)| s))
    }
}

/// The shop's DynamoDB read model, as the host suite reads it.
pub struct SummaryTable;

#[async_trait::async_trait]
impl ReadModel for SummaryTable {
    async fn summary(
        &self,
        deployment: &Deployment,
        order: uuid::Uuid,
    ) -> anyhow::Result<Option<angzarr_testkit::suites::host::Summary>> {
        suite_summary(deployment, order).await
    }
}

/// The read model's summary of `order` as the host suite compares it.
pub async fn suite_summary(
    functions: &Functions,
    order: uuid::Uuid,
) -> anyhow::Result<Option<angzarr_testkit::suites::host::Summary>> {
    Ok(functions
        .summary(order)
        .await?
        .map(|s| angzarr_testkit::suites::host::Summary::from_proto(&s)))
}

impl Deployment {
    /// The shop on SNS → SQS; the read-model table only when `with_read_model`.
    pub async fn shop(with_read_model: bool) -> anyhow::Result<Self> {
        let prefix = angzarr_testkit::emulators::unique_name("shop");
        let deployment = Deployment::start(&spec(&prefix), prefix).await?;
        if with_read_model {
            deployment.create_read_model().await?;
        }
        Ok(deployment)
    }
}
