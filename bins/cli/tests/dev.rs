//! `angzarr dev` hosting a team's application from configuration alone: the
//! Python shop (`examples/shop-python`) as child processes the host starts
//! (`business: ... command:`), driven over gRPC by the host suite
//! (`angzarr_testkit::suites::host`) as the published client libraries
//! drive it.
//!
//! Needs python3 with grpcio, grpcio-tools and grpcio-health-checking. Run
//! with `cargo test -p angzarr-cli --test dev`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use angzarr_core::Error;
use angzarr_core::error::wire::error_from_status;
use angzarr_core::proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_core::proto::event_query_service_client::EventQueryServiceClient;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage, Query};
use angzarr_testkit::shop_python;
use angzarr_testkit::suites::host::{ShopHost, Summary, shop_flow};
use tokio::io::AsyncBufReadExt;

/// The business section: every component a Python process `dev` starts.
const BUSINESS: &str = "business:
  aggregates:
    cart: { command: [python3, -m, shop_services, cart], snapshots: true }
    order: { command: [python3, -m, shop_services, order], snapshots: true }
    fulfillment: { command: [python3, -m, shop_services, fulfillment], snapshots: true }
  sagas:
    checkout: { command: [python3, -m, shop_services, checkout], domains: [cart] }
    fulfillment: { command: [python3, -m, shop_services, fulfillment-saga], domains: [order] }
  projectors:
    order-summary: { command: [python3, -m, shop_services, order-summary], domains: [order, fulfillment] }
";

/// `angzarr dev` serving; killed (with its children) when dropped.
struct Dev {
    url: String,
    summaries: PathBuf,
    _process: tokio::process::Child,
}

async fn start(config: &str, name: &str) -> Result<Dev, String> {
    start_with(config, name, shop_python::python_path()).await
}

/// `angzarr dev` with `config`, its children finding their code on
/// `python_path`.
async fn start_with(config: &str, name: &str, python_path: PathBuf) -> Result<Dev, String> {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    let summaries = scratch.join("summaries");
    std::fs::create_dir_all(&summaries).unwrap();
    let file = scratch.join("angzarr.yaml");
    std::fs::write(&file, config).unwrap();
    let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["dev", "--port", "0"])
        .env("ANGZARR_CONFIG", &file)
        .env("PYTHONPATH", python_path)
        .env("SHOP_SUMMARY_DIR", &summaries)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(scratch.join("stderr.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(process.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
    match first {
        Ok(Ok(Some(line))) if line.contains("gRPC on ") => {
            let url = line.rsplit(' ').next().unwrap().to_owned();
            // Keep reading what it prints: a closed pipe would make its
            // next `println!` fail.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok(Dev {
                url,
                summaries,
                _process: process,
            })
        }
        _ => {
            let _ = process.kill().await;
            let _ = process.wait().await;
            Err(std::fs::read_to_string(scratch.join("stderr.log")).unwrap_or_default())
        }
    }
}

#[async_trait::async_trait]
impl ShopHost for Dev {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        let mut client = CommandHandlerCoordinatorServiceClient::connect(self.url.clone())
            .await
            .map_err(|e| Error::unavailable("angzarr dev", e.to_string()))?;
        match client.handle_command(request).await {
            Ok(answer) => Ok(answer.into_inner()),
            Err(status) => Err(error_from_status("angzarr dev", status)),
        }
    }

    async fn settle(&self) -> Result<(), String> {
        // `dev` delivers everything a command causes before answering it.
        Ok(())
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        let mut client = EventQueryServiceClient::connect(self.url.clone())
            .await
            .map_err(|e| e.to_string())?;
        let key = angzarr_core::AggregateKey::new(domain, root).map_err(|e| e.to_string())?;
        let query = Query {
            cover: Some(key.cover("")),
            selection: None,
        };
        let book = client
            .get_event_book(query)
            .await
            .map_err(|e| e.to_string())?;
        Ok(book.into_inner().pages)
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        Summary::from_file_in(&self.summaries, order)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_hosts_the_python_shop_from_the_business_section() {
    let dev = match start(BUSINESS, "dev-python").await {
        Ok(dev) => dev,
        Err(stderr) => panic!("angzarr dev did not start: {stderr}\n{}", shop_python::HINT),
    };
    shop_flow(&dev).await;
}

#[tokio::test]
async fn dev_refuses_to_start_with_nothing_to_host_or_a_command_that_cannot_start() {
    let stderr = start("{}", "dev-empty").await.err().expect("refused");
    assert!(
        stderr.contains("nothing to host") && stderr.contains("business"),
        "{stderr}"
    );
    let missing = "business: { aggregates: { cart: { command: [/nonexistent/cart-service] } } }";
    let stderr = start(missing, "dev-missing").await.err().expect("refused");
    assert!(
        stderr.contains("business.aggregates.cart"),
        "the key of the command that cannot start: {stderr}"
    );
}

/// The ledger (`examples/ledger-python`), written with the published
/// `angzarr-client` library's own handler classes, as children of `dev`.
fn ledger_business(python: &std::path::Path) -> String {
    let python = python.display();
    format!(
        "business:
  aggregates:
    account: {{ command: [{python}, -m, ledger, account] }}
    journal: {{ command: [{python}, -m, ledger, journal] }}
  sagas:
    journal-entries: {{ command: [{python}, -m, ledger, journal-entries], domains: [account] }}
  process_managers:
    reconciliation: {{ command: [{python}, -m, ledger, reconciliation], domains: [journal] }}
  projectors:
    balances: {{ command: [{python}, -m, ledger, balances], domains: [account], synchronous: true }}
"
    )
}

/// The compatibility suite: the published Python library (PyPI
/// `angzarr-client`, the version `examples/ledger-python/requirements.txt`
/// pins) as the business logic (an OO aggregate with Replay, a functional
/// aggregate without, a saga, a process manager and a projector, each with
/// the library's own classes) and as the client (`python -m
/// ledger.checks`: commands, refusals, editions, fact injection,
/// speculative commands, correlation queries, Synchronize, an unserved
/// RPC), against `angzarr dev`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_python_library_drives_and_serves_the_runtime() {
    let python = angzarr_testkit::published_python::python()
        .unwrap_or_else(|| panic!("{}", angzarr_testkit::published_python::HINT));
    let ledger = angzarr_testkit::published_python::ledger_path();
    let dev = match start_with(&ledger_business(&python), "dev-ledger", ledger.clone()).await {
        Ok(dev) => dev,
        Err(stderr) => panic!(
            "angzarr dev did not start: {stderr}\n{}",
            angzarr_testkit::published_python::HINT
        ),
    };
    let endpoint = dev.url.trim_start_matches("http://").to_owned();
    let checks = tokio::process::Command::new(&python)
        .args(["-m", "ledger.checks", &endpoint])
        .env("PYTHONPATH", &ledger)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), checks)
        .await
        .expect("the checks finish")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .collect();
    assert!(
        out.status.success() && passed.len() == 8,
        "the checks against the published library failed ({} passed):\n{stdout}\n{stderr}",
        passed.len()
    );
}

/// What the published contract has and ours does not (`docs/compatibility.md`
/// says why for each).
const ABSENT: &[&str] = &[
    "message CloudEvent",
    "message CloudEventsResponse",
    "message SagaCompensationFailed",
    "message ContextualCommandRequest",
    "message RejectionNotification",
    "message Confirmation",
    "message Revocation",
    "message Compensate",
    "message NoOp",
    "message CascadeCommit",
    "message CascadeRollback",
    "message CascadeConflictDetail",
    "message Target",
    "message ComponentDescriptor",
    "message GetDescriptorRequest",
    "rpc EventStreamService/Subscribe",
];

/// Our contract against the published library's descriptors
/// (`python -m ledger.contract`): every message and RPC we share has the
/// published field numbers, names and types, our additions are numbered
/// from 100, and what we lack is exactly the documented list.
#[tokio::test]
async fn our_contract_matches_the_published_one_field_for_field() {
    let python = angzarr_testkit::published_python::python()
        .unwrap_or_else(|| panic!("{}", angzarr_testkit::published_python::HINT));
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("contract-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();
    let ours = scratch.join("angzarr.binpb");
    std::fs::write(&ours, angzarr_core::proto::FILE_DESCRIPTOR_SET).unwrap();
    let out = tokio::process::Command::new(&python)
        .args(["-m", "ledger.contract"])
        .arg(&ours)
        .env(
            "PYTHONPATH",
            angzarr_testkit::published_python::ledger_path(),
        )
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "our contract differs from the published one:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let absent: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ABSENT "))
        .collect();
    assert_eq!(absent, ABSENT, "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("SAME ")).count() > 60,
        "{stdout}"
    );
}
