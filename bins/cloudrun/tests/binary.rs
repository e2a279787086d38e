//! The stock binary, `angzarr-cloudrun`, as Cloud Run runs it: serves on
//! `PORT`, stops on SIGTERM after flushing, and refuses a bad `business`
//! section at start, naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

fn binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_angzarr-cloudrun"));
    command
        .env_remove("ANGZARR_CONFIG")
        .env_remove("ANGZARR_ROLE")
        .env("ANGZARR_CLOUDRUN__HOST", "127.0.0.1")
        .kill_on_drop(true);
    command
}

/// The status line of `GET path`, if the server answers.
async fn status_of(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn the_stock_binary_serves_and_stops_on_sigterm_after_flushing() {
    let port = free_port();
    let child = binary()
        .args(["--role", "all"])
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut live = None;
    for _ in 0..300 {
        live = status_of(port, "/health/live").await;
        if live.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        live.as_deref().is_some_and(|l| l.contains(" 200 ")),
        "{live:?}"
    );
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the binary stops after SIGTERM")
        .unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("publisher flushed"), "{logs}");
}

#[tokio::test]
async fn a_bad_business_section_stops_the_binary_at_start_naming_the_key() {
    let cases = [
        (
            "ANGZARR_BUSINESS__AGGREGATES__CART__GRPC",
            "localhost:50051",
            "business.aggregates.cart.grpc",
        ),
        ("ANGZARR_ROLE", "worker", "role"),
        ("ANGZARR_STORAGEE__TYPE", "redis", "storagee"),
    ];
    for (variable, value, key) in cases {
        let output = binary()
            .env("PORT", free_port().to_string())
            .env(variable, value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{variable}={value}: {stderr}");
    }
}
