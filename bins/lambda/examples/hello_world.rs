//! The baseline of the cold-start benchmark: a minimal `lambda_runtime`
//! function, built with the same release profile as the Angzarr functions.
//!
//! `cargo build --release -p angzarr-lambda --example hello_world`

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(event.payload)
    }))
    .await
}
