//! The shop on Cloud Run's event-driven topology, against the Pub/Sub and
//! Bigtable emulators, printing each step.
//!
//! ```sh
//! cargo run -p angzarr-example-shop-cloudrun --example cloudrun_demo
//! ```
//!
//! Starts both emulators (through `angzarr_testkit`), creates the tables,
//! topics and push subscriptions, and serves the four roles on loopback
//! ports, as the e2e test deploys them (`tests/support/deployment.rs`):
//! every push goes through a proxy that delivers it twice. Then runs the
//! host suite's flow (`angzarr_testkit::suites::host::shop_flow`), narrated:
//! cart → checkout → (saga) order → payment → (saga) shipment → ship → the
//! order-summary read model, with the suite's deliberate rejections; and
//! shows what the sagas made of the duplicates. A failed check ends the
//! demo with a panic saying what was expected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use angzarr_cloudrun::Role;
use angzarr_testkit::suites::host::{Narrated, shop_flow};
use support::deployment::deploy;

#[tokio::main]
async fn main() {
    println!(
        "== starting the Pub/Sub and Bigtable emulators, provisioning tables, topics and push subscriptions"
    );
    let d = deploy().await;
    for (id, topic, endpoint) in &d.provisioned.subscriptions {
        println!("   push subscription {id}: {topic} → {endpoint} (a proxy pushing twice)");
    }
    println!("== serving the Cloud Run roles");
    for (role, served) in [
        (Role::Gateway, &d.gateway),
        (Role::Aggregate, &d.aggregate),
        (Role::ProjectorTrigger, &d.projectors),
        (Role::SagaTrigger, &d.sagas),
    ] {
        println!("   {:<18} {}", role.to_string(), served.url());
    }

    println!("== the shop flow through the gateway");
    shop_flow(&Narrated::new(&d)).await;

    println!("== every push came twice: no second effect");
    for (saga, counts) in d.saga_app.stats().all() {
        println!(
            "   saga {saga:<12} handled {}, duplicates {}, commands sent {}",
            counts.done, counts.duplicates, counts.commands_sent
        );
    }
    d.tooling.flush().await;
    println!("== done");
}
