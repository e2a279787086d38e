//! Creating the tables, for tests and `cargo xtask`; the deploy modules
//! create the same shapes (README: "Tables").

use std::time::Duration;

use angzarr_core::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::backend::TableNames;
use crate::error::{BACKEND, from_build, from_sdk};
use crate::item::{PK, TTL};

/// How long to wait for a new table to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(500);

/// Creates the four tables if they do not exist (on-demand billing), waits
/// until they are active, and enables TTL on `ttl` for the guard and
/// rate-limit tables. Safe to run again: existing tables are kept.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<()> {
    create(client, &names.events, Some("seq")).await?;
    create(client, &names.snapshots, None).await?;
    create(client, &names.guard, None).await?;
    create(client, &names.rate_limits, None).await?;
    for table in [
        &names.events,
        &names.snapshots,
        &names.guard,
        &names.rate_limits,
    ] {
        wait_active(client, table).await?;
    }
    enable_ttl(client, &names.guard).await?;
    enable_ttl(client, &names.rate_limits).await
}

async fn create(client: &Client, table: &str, sort_key: Option<&str>) -> Result<()> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(from_build)
    };
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .map_err(from_build)
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .attribute_definitions(attribute(PK, ScalarAttributeType::S)?);
    if let Some(sort_key) = sort_key {
        request = request
            .key_schema(key(sort_key, KeyType::Range)?)
            .attribute_definitions(attribute(sort_key, ScalarAttributeType::N)?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(error) => match error.as_service_error() {
            Some(CreateTableError::ResourceInUseException(_)) => Ok(()),
            _ => Err(from_sdk(error)),
        },
    }
}

async fn wait_active(client: &Client, table: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(from_sdk)?;
        let status = out.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::backend(
                BACKEND,
                format!("table `{table}` is not active after {ACTIVE_TIMEOUT:?} ({status:?})"),
                true,
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn enable_ttl(client: &Client, table: &str) -> Result<()> {
    let out = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(from_sdk)?;
    let status = out
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(TTL)
        .enabled(true)
        .build()
        .map_err(from_build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}
