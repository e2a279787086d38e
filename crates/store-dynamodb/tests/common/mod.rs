//! Fixtures shared by the DynamoDB tests: backends on fresh tables of the
//! shared moto, an S3 payload store on a fresh bucket, and a request counter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::{Arc, Mutex};

use angzarr_core::PayloadStore;
use angzarr_payload_s3::{Builder as S3Builder, S3PayloadStore};
use angzarr_store_dynamodb::{Builder, DynamoDb, create_tables};
use angzarr_testkit::emulators;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// A builder on fresh table names of the shared moto.
pub async fn builder() -> Builder {
    let moto = emulators::moto().await;
    Builder::new()
        .with_table_prefix(&emulators::unique_name("angzarr"))
        .with_region("us-east-1")
        .with_endpoint(moto.endpoint())
}

/// Builds and creates the tables.
pub async fn create(builder: Builder) -> DynamoDb {
    let dynamodb = builder.build().await.unwrap();
    create_tables(dynamodb.client(), dynamodb.tables())
        .await
        .unwrap();
    dynamodb
}

/// A backend on fresh tables, without a payload store.
pub async fn backend() -> DynamoDb {
    create(builder().await).await
}

/// An S3 payload store on a fresh bucket of the shared moto.
pub async fn payloads() -> S3PayloadStore {
    payloads_counted(None).await
}

/// An S3 payload store on a fresh bucket of the shared moto whose requests
/// `counter` records (after the bucket is made).
pub async fn payloads_counted(counter: Option<RequestCounter>) -> S3PayloadStore {
    let moto = emulators::moto().await;
    let bucket = emulators::unique_name("offload");
    let store = S3Builder::new()
        .with_bucket(&bucket)
        .with_prefix("events/")
        .with_region("us-east-1")
        .with_endpoint(moto.endpoint())
        .build()
        .await
        .unwrap();
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    match counter {
        None => store,
        Some(counter) => {
            let config = store
                .client()
                .config()
                .to_builder()
                .interceptor(counter)
                .build();
            S3Builder::new()
                .with_bucket(&bucket)
                .with_prefix("events/")
                .with_client(aws_sdk_s3::Client::from_conf(config))
                .build()
                .await
                .unwrap()
        }
    }
}

/// A backend on fresh tables that offloads large events to a fresh bucket.
pub async fn offloading_backend() -> (DynamoDb, S3PayloadStore) {
    let payloads = payloads().await;
    let shared: Arc<dyn PayloadStore> = Arc::new(payloads.clone());
    let dynamodb = create(builder().await.with_payload_store(shared)).await;
    (dynamodb, payloads)
}

/// Records the operation of every request the SDK sends (after retries are
/// decided, so each attempt is one entry).
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<Mutex<Vec<String>>>);

impl RequestCounter {
    /// The operations sent since the last call, and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB names the operation in `X-Amz-Target: DynamoDB_20120810.<Op>`;
        // S3 (no target header) is recorded as `S3 <METHOD>`.
        let request = context.request();
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
            None => format!("S3 {}", request.method()),
        };
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A backend on fresh tables whose every request is counted.
pub async fn counted_backend(
    payloads: Option<Arc<dyn PayloadStore>>,
) -> (DynamoDb, RequestCounter) {
    let plain = backend().await;
    counted_on(&plain, payloads).await
}

/// Another backend on the tables of `existing` (as a second process would
/// be: it shares no cache with `existing`) whose every request is counted.
pub async fn counted_on(
    existing: &DynamoDb,
    payloads: Option<Arc<dyn PayloadStore>>,
) -> (DynamoDb, RequestCounter) {
    let counter = RequestCounter::default();
    let config = existing
        .client()
        .config()
        .to_builder()
        .interceptor(counter.clone())
        .build();
    let mut builder = Builder::new()
        .with_tables(existing.tables().clone())
        .with_client(aws_sdk_dynamodb::Client::from_conf(config));
    if let Some(payloads) = payloads {
        builder = builder.with_payload_store(payloads);
    }
    (builder.build().await.unwrap(), counter)
}
