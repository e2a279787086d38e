//! Free ports and readiness probes.
//!
//! Probes use Tokio sockets created inside the awaiting task, so they work
//! from whichever runtime calls them (each `#[tokio::test]` has its own).
//! Deadlines use `std::time::Instant`, so a paused Tokio clock cannot cut
//! them short.

use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::Kind;
use super::process::Process;

/// How long a single probe may take before it counts as "not yet".
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// A loopback port that was free a moment ago.
///
/// The listener is dropped before the emulator binds the port, so another
/// process may take it in between; the caller retries on a new port when the
/// emulator exits early.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// Why an emulator did not become ready.
pub(crate) enum NotReady {
    /// The process ended, typically because the port was taken.
    Exited(ExitStatus),
    /// The process runs but did not answer in time.
    TimedOut(Duration),
}

/// Waits until the emulator answers on `port`, the process exits, or `limit`
/// passes; returns how long it took.
pub(crate) async fn wait_ready(
    kind: Kind,
    port: u16,
    process: &mut Process,
    limit: Duration,
) -> Result<Duration, NotReady> {
    let started = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            return Err(NotReady::Exited(status));
        }
        // Checking that the process still runs after a good probe guards
        // against a stranger that owns the port and answered in its place.
        if probe(kind, port).await && process.exited().is_none() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(NotReady::TimedOut(limit));
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// One readiness check: a real exchange in the emulator's protocol where it
/// has one, a TCP connect for the gRPC-only Bigtable emulator.
pub(crate) async fn probe(kind: Kind, port: u16) -> bool {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        let (request, expected): (String, &[u8]) = match kind {
            // moto answers 200 on `/`, the Pub/Sub emulator "Ok"; any HTTP
            // status line means the server is up.
            Kind::Moto | Kind::PubSub => (
                format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
                b"HTTP/1.",
            ),
            Kind::Redis => ("*1\r\n$4\r\nPING\r\n".to_owned(), b"+PONG"),
            Kind::Bigtable => return Some(true),
        };
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = vec![0; expected.len()];
        stream.read_exact(&mut answer).await.ok()?;
        Some(answer == expected)
    };
    matches!(timeout(PROBE_TIMEOUT, exchange).await, Ok(Some(true)))
}
