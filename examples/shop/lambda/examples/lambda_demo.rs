//! The shop on AWS Lambda, emulated, step by step: moto (DynamoDB, SNS →
//! SQS), the four functions under `cargo lambda watch`, the gateway called
//! with API Gateway HTTP API (v2) events, and a local event-source poller
//! delivering every SQS record twice to the trigger functions.
//!
//! The flow is the host suite's (`angzarr_testkit::suites::host::shop_flow`),
//! narrated, on the deployment the e2e test drives (`tests/support`); a
//! failed check ends the demo with a panic saying what was expected.
//!
//! ```text
//! cargo run -p angzarr-example-shop-lambda --example lambda_demo
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use angzarr_testkit::suites::host::{Narrated, shop_flow};
use support::{Deployment, Host, SummaryTable};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!(
        "angzarr on Lambda (emulated): starting moto and `cargo lambda watch` (the first call compiles the functions)…"
    );
    let shop = Deployment::shop(true).await?;
    println!(
        "resources: tables/topics/queues `{}-*` on {}",
        shop.prefix, shop.endpoint
    );
    println!(
        "the poller delivers every SQS record twice to the saga and projector triggers; the read model is DynamoDB\n"
    );
    let host = Host {
        deployment: &shop,
        read_model: SummaryTable,
    };
    shop_flow(&Narrated::new(&host)).await;
    println!("\ndone: the order was shipped, each event stored once");
    Ok(())
}
