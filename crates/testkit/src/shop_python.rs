//! The shop written in Python (`examples/shop-python`): its components as
//! processes on loopback ports, for the tests that host business logic in
//! another language. The services generate their gRPC stubs from `proto/` on
//! first use.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// What the Python services need, and how to get it.
pub const HINT: &str = "the Python shop needs python3 with grpcio, grpcio-tools and \
                        grpcio-health-checking: `python3 -m pip install -r \
                        examples/shop-python/requirements.txt` (cargo xtask test installs them)";

/// The directory to put on `PYTHONPATH` for `python3 -m shop_services`.
pub fn python_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop-python")
}

/// One component serving on a loopback port; killed when dropped.
#[derive(Debug)]
pub struct Service {
    /// Its URL, `http://127.0.0.1:<port>`.
    pub url: String,
    child: tokio::process::Child,
}

impl Service {
    /// The process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Starts `component` (`cart`, `order`, `fulfillment`, `checkout`,
/// `fulfillment-saga`, `order-summary`) with `env` added, and waits for its
/// `ready` line.
pub async fn serve(component: &str, env: &[(&str, String)]) -> Service {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-m",
            "shop_services",
            component,
            "--port",
            &port.to_string(),
        ])
        .env("PYTHONPATH", python_path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 ({e}); {HINT}"));
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
    match ready {
        Ok(Ok(Some(line))) if line == "ready" => {}
        other => panic!("the Python {component} service did not start ({other:?}); {HINT}"),
    }
    Service {
        url: format!("http://127.0.0.1:{port}"),
        child,
    }
}
