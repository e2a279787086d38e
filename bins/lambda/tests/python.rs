//! A team's application with no Rust at all, on Lambda: the shop written in
//! Python (`examples/shop-python`), hosted by the stock functions
//! (`src/bin/`) from a `business` configuration whose components are
//! commands each function starts beside itself (child processes over a Unix
//! socket), on moto (DynamoDB, SNS → SQS) under `cargo lambda watch`, driven
//! by the host suite (`angzarr_testkit::suites::host`), every record
//! delivered twice.
//!
//! Needs moto, cargo-lambda and python3 with grpcio, grpcio-tools and
//! grpcio-health-checking (`cargo xtask test` installs them). Run with
//! `cargo test -p angzarr-lambda --test python`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};

use angzarr_testkit::suites::host::{Summary, shop_flow};
use support::{Deployment, Host, ReadModel, Spec};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The whole configuration of the functions' business logic: each
/// component a Python process the function starts.
fn business_yaml() -> String {
    // The shop's aggregates fold the snapshot they are given.
    let component = |name: &str| {
        format!("{{ command: [python3, -m, shop_services, {name}], snapshots: true }}")
    };
    format!(
        "business:
  aggregates:
    cart: {cart}
    order: {order}
    fulfillment: {fulfillment}
  sagas:
    checkout: {{ command: [python3, -m, shop_services, checkout], domains: [cart] }}
    fulfillment: {{ command: [python3, -m, shop_services, fulfillment-saga], domains: [order] }}
  projectors:
    order-summary: {{ command: [python3, -m, shop_services, order-summary], domains: [order, fulfillment] }}
",
        cart = component("cart"),
        order = component("order"),
        fulfillment = component("fulfillment"),
    )
}

/// The Python projector's read model: one JSON file per order.
struct JsonFiles(PathBuf);

#[async_trait::async_trait]
impl ReadModel for JsonFiles {
    async fn summary(
        &self,
        _deployment: &Deployment,
        order: uuid::Uuid,
    ) -> anyhow::Result<Option<Summary>> {
        Summary::from_file_in(&self.0, order).map_err(anyhow::Error::msg)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_shop_runs_on_the_stock_functions_with_child_processes() {
    let prefix = angzarr_testkit::emulators::unique_name("pyshop");
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&prefix);
    let summaries = scratch.join("summaries");
    std::fs::create_dir_all(&summaries).unwrap();
    let config = scratch.join("angzarr.yaml");
    std::fs::write(&config, business_yaml()).unwrap();

    let spec = Spec::new(env!("CARGO_MANIFEST_DIR"), "")
        .env("ANGZARR_CONFIG", config.display().to_string())
        .env(
            "PYTHONPATH",
            repo().join("examples/shop-python").display().to_string(),
        )
        .env("SHOP_SUMMARY_DIR", summaries.display().to_string());
    let deployment = Deployment::start(&spec, prefix).await.unwrap();
    shop_flow(&Host {
        deployment: &deployment,
        read_model: JsonFiles(summaries),
    })
    .await;
}
