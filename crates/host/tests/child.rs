//! Business logic the host starts itself (`command` components): the shop's
//! Python cart (examples/shop-python) as a child process over a Unix socket,
//! driven through the aggregate pipeline; killed in the middle of a call (the
//! call fails retriably, the next one restarts it); a restart that does not
//! come up (every later call fails fast, retriably); commands that cannot
//! start (the host refuses to start, naming the key).
//!
//! Needs python3 with grpcio, grpcio-tools and grpcio-health-checking
//! (`cargo xtask test` installs them). Run with
//! `cargo test -p angzarr-host --test child`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use angzarr_core::Error;
use angzarr_core::memory::{MemoryBus, MemoryEventStore};
use angzarr_core::proto::CommandRequest;
use angzarr_example_shop::proto::AddItem;
use angzarr_host::{Application, BusinessConfig, Role};
use angzarr_runtime::AggregateCoordinator;
use angzarr_runtime::authoring::command;
use figment::Figment;
use figment::providers::{Format, Yaml};

const HINT: &str = "python3 with grpcio, grpcio-tools and grpcio-health-checking: \
                    `python3 -m pip install -r examples/shop-python/requirements.txt`";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flaky_cart.py")
}

fn app(yaml: &str) -> angzarr_core::Result<Application> {
    BusinessConfig::from_figment(&Figment::new().merge(Yaml::string(yaml)))?
        .apply(Application::new())
}

/// The flaky cart as the `cart` aggregate; `marker` is the file whose
/// presence makes a start fail.
fn cart_app(marker: &Path) -> Application {
    app(&format!(
        "business:
           aggregates:
             cart:
               command: [python3, '{}']
               env: {{ FLAKY_REFUSE_START: '{}' }}
           start_timeout_ms: 60000",
        fixture().display(),
        marker.display()
    ))
    .unwrap()
}

fn coordinator(app: &Application) -> AggregateCoordinator {
    AggregateCoordinator::builder(
        Arc::new(MemoryEventStore::new()),
        Arc::new(MemoryBus::new()),
    )
    .handler("cart", app.handler("cart").unwrap().clone())
    .build()
}

fn add_item(root: uuid::Uuid, correlation: &str) -> CommandRequest {
    let item = AddItem {
        sku: "sku-1".into(),
        quantity: 1,
        unit_price_cents: 250,
    };
    CommandRequest {
        command: Some(command("cart", root, correlation, &item)),
        ..Default::default()
    }
}

async fn started(app: &Application) {
    if let Err(error) = app.start(Role::Aggregate).await {
        panic!("the cart did not start ({error}); {HINT}");
    }
}

fn marker() -> PathBuf {
    std::env::temp_dir().join(format!("angzarr-refuse-{}", uuid::Uuid::new_v4().simple()))
}

#[tokio::test]
async fn a_command_component_runs_as_a_child_over_a_unix_socket() {
    let app = cart_app(&marker());
    assert_eq!(app.children().len(), 1);
    let child = app.children()[0].1.clone();
    assert_eq!(child.key(), "business.aggregates.cart");
    started(&app).await;
    assert!(child.pid().await.is_some(), "started before the first call");
    let socket = child.socket().to_owned();
    assert!(socket.exists(), "{}", socket.display());

    let coordinator = coordinator(&app);
    let root = uuid::Uuid::new_v4();
    let answer = coordinator.handle(add_item(root, "c-1")).await.unwrap();
    assert_eq!(answer.events.unwrap().pages.len(), 1);
    let answer = coordinator.handle(add_item(root, "c-2")).await.unwrap();
    let book = answer.events.unwrap();
    assert_eq!(book.pages.len(), 1, "only the new event");
}

#[tokio::test]
async fn a_child_that_dies_fails_the_call_retriably_and_is_restarted_once() {
    let refuse = marker();
    let app = cart_app(&refuse);
    started(&app).await;
    let child = app.children()[0].1.clone();
    let coordinator = coordinator(&app);
    let root = uuid::Uuid::new_v4();
    coordinator.handle(add_item(root, "c-1")).await.unwrap();
    let first = child.pid().await.unwrap();

    // Dies in the middle of the call: never a success, always retriable.
    let error = coordinator.handle(add_item(root, "die")).await.unwrap_err();
    assert!(error.is_retriable(), "{error:?}");
    // The next call restarts it, and nothing of the failed call was kept.
    let answer = coordinator.handle(add_item(root, "c-2")).await.unwrap();
    let book = answer.events.unwrap();
    assert_eq!(book.pages.len(), 1);
    let second = child.pid().await.unwrap();
    assert_ne!(first, second, "a new process");

    // A restart that succeeded resets the allowance: it dies again, and the
    // restart this time cannot come up.
    std::fs::write(&refuse, b"").unwrap();
    let error = coordinator.handle(add_item(root, "die")).await.unwrap_err();
    assert!(error.is_retriable(), "{error:?}");
    let error = coordinator.handle(add_item(root, "c-3")).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    // Restarted once only: later calls fail fast, even once it could start.
    std::fs::remove_file(&refuse).unwrap();
    let error = coordinator.handle(add_item(root, "c-4")).await.unwrap_err();
    assert!(error.is_retriable(), "{error:?}");
    assert!(error.to_string().contains("did not come up"), "{error}");
    assert!(child.pid().await.is_none());
}

/// The key and message of a start that failed.
async fn start_error(yaml: &str) -> (String, String) {
    let app = app(yaml).unwrap();
    match app.start(Role::All).await {
        Err(Error::Config { key, message }) => (key, message),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_command_that_cannot_start_stops_the_host_naming_the_key() {
    let (key, message) = start_error(
        "business: { sagas: { s: { command: ['/nonexistent/program'], domains: [cart] } } }",
    )
    .await;
    assert_eq!(key, "business.sagas.s.command");
    assert!(message.contains("cannot start"), "{message}");

    let (key, message) = start_error(
        "business: { projectors: { p: { command: [python3, -c, 'import sys; sys.exit(3)'] } } }",
    )
    .await;
    assert_eq!(key, "business.projectors.p.command");
    assert!(message.contains("exited"), "{message}");

    let (key, message) = start_error(
        "business: { aggregates: { cart: { command: [sleep, '30'] } }, start_timeout_ms: 300 }",
    )
    .await;
    assert_eq!(key, "business.aggregates.cart.command");
    assert!(message.contains("not serving"), "{message}");
}

#[test]
fn a_component_names_one_place_to_find_it() {
    for (yaml, key, wanted) in [
        (
            "business: { aggregates: { cart: { grpc: 'http://127.0.0.1:1', command: [x] } } }",
            "business.aggregates.cart",
            "not both",
        ),
        (
            "business: { aggregates: { cart: {} } }",
            "business.aggregates.cart",
            "needs `grpc`",
        ),
        (
            "business: { aggregates: { cart: { grpc: 'http://127.0.0.1:1', socket: auto } } }",
            "business.aggregates.cart",
            "go with `command`",
        ),
        (
            "business: { aggregates: { cart: { command: [''] } } }",
            "business.aggregates.cart.command",
            "no program",
        ),
        (
            "business: { aggregates: { cart: { command: [x], socket: '' } } }",
            "business.aggregates.cart.socket",
            "empty",
        ),
        (
            "business: { aggregates: { cart: { command: [x], sockets: auto } } }",
            "business.aggregates.cart",
            "sockets",
        ),
        (
            "business: { upcaster: { grpc: 'http://127.0.0.1:1', snapshots: true } }",
            "business.upcaster.snapshots",
            "only aggregates",
        ),
        (
            "business: { sagas: { s: { grpc: 'http://127.0.0.1:1', snapshots: true } } }",
            "business.sagas.s",
            "snapshots",
        ),
    ] {
        match app(yaml) {
            Err(Error::Config { key: got, message }) => {
                assert!(got.starts_with(key), "{yaml}: {got}");
                assert!(
                    message.contains(wanted) || got.contains(wanted),
                    "{yaml}: {message}"
                );
            }
            other => panic!("{yaml}: {other:?}"),
        }
    }
}
