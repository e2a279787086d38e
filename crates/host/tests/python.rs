//! Polyglot business logic: the cart handler written in Python
//! (`examples/shop-python`, grpcio, stubs generated from `proto/`), driven
//! through the runtime.
//!
//! Needs python3 with `grpcio`, `grpcio-tools` and `grpcio-health-checking`
//! (`cargo xtask test` installs them from PyPI). A missing one fails the test
//! with that hint. Run with `cargo test -p angzarr-host --test python`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../examples/shop/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemorySnapshotStore};
use angzarr_core::store::page_sequence;
use angzarr_core::{Error, ErrorCode, EventStore, EventStoreExt, SnapshotStore};
use angzarr_example_shop::proto::{AddItem, CheckedOut, Checkout, RemoveItem};
use angzarr_runtime::AggregateCoordinator;
use angzarr_runtime::grpc::client::{GrpcCommandHandler, GrpcTarget};
use angzarr_testkit::shop_python::HINT;
use common::{decode, key, request, types};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn the_python_cart_service_runs_through_the_runtime() {
    let python = angzarr_testkit::shop_python::serve("cart", &[]).await;
    let url = python.url.clone();
    let store = Arc::new(MemoryEventStore::new());
    let snapshots = Arc::new(MemorySnapshotStore::new());
    let coordinator = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()))
        .handler(
            "cart",
            Arc::new(
                GrpcCommandHandler::new(GrpcTarget::new("python cart", &url).unwrap())
                    .reads_snapshots(true),
            ),
        )
        // Snapshots: the service folds the snapshot, then the later events.
        .snapshots(snapshots.clone())
        .snapshot_every(2)
        .build();
    let cart = uuid::Uuid::new_v4();
    for (sku, quantity) in [("apple", 2), ("pear", 1), ("plum", 4)] {
        coordinator
            .handle(request(
                "cart",
                cart,
                &AddItem {
                    sku: sku.into(),
                    quantity,
                    unit_price_cents: 25,
                },
            ))
            .await
            .unwrap();
    }
    coordinator
        .handle(request("cart", cart, &RemoveItem { sku: "pear".into() }))
        .await
        .unwrap();
    let order = uuid::Uuid::new_v4();
    let response = coordinator
        .handle(request(
            "cart",
            cart,
            &Checkout {
                order_id: order.to_string(),
            },
        ))
        .await
        .unwrap();
    let checked_out: CheckedOut = decode(&response.events.unwrap().pages[0]);
    assert_eq!(checked_out.order_id, order.to_string());
    assert_eq!(
        checked_out.total_cents,
        (2 + 4) * 25,
        "state folded by Python from snapshot + events"
    );
    let skus: Vec<_> = checked_out.items.iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(skus, ["apple", "plum"]);

    let history = store.load_all(&key("cart", cart)).await.unwrap();
    assert_eq!(
        types(&history),
        [
            "shop.ItemAdded",
            "shop.ItemAdded",
            "shop.ItemAdded",
            "shop.ItemRemoved",
            "shop.CheckedOut"
        ]
    );
    let sequences: Vec<u32> = history.iter().filter_map(page_sequence).collect();
    assert_eq!(
        sequences,
        [0, 1, 2, 3, 4],
        "the runtime stamps the authoritative sequences"
    );
    assert!(
        snapshots.get(&key("cart", cart)).await.unwrap().is_some(),
        "snapshot from Python's Replay"
    );

    // Refusals from Python keep their meaning.
    let err = coordinator
        .handle(request(
            "cart",
            cart,
            &AddItem {
                sku: "fig".into(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { reason } if reason.contains("checked out")),
        "{err}"
    );
    let mut unknown = request("cart", cart, &RemoveItem { sku: "x".into() });
    if let Some(angzarr_core::proto::command_page::Payload::Command(c)) =
        unknown.command.as_mut().unwrap().pages[0].payload.as_mut()
    {
        c.type_url = "type.googleapis.com/shop.Frobnicate".into();
    }
    let err = coordinator.handle(unknown).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("shop.Frobnicate"), "{err}");
    assert_eq!(
        store.next_sequence(&key("cart", cart)).await.unwrap(),
        5,
        "refusals appended nothing"
    );
}

/// The Python shop's own checks of every component over its wire contract
/// (examples/shop-python/selftest.py: TCP and Unix sockets, health,
/// rejections, replays of the read model, SIGTERM).
#[test]
fn the_python_shop_passes_its_selftest() {
    let output = std::process::Command::new("python3")
        .arg(repo().join("examples/shop-python/selftest.py"))
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {HINT}"));
    assert!(
        output.status.success(),
        "{HINT}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
