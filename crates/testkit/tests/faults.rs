//! The fault-injection proxy against a loopback echo server that counts
//! what reached it: each fault does what it says, and no more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use angzarr_testkit::faults::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An echo server; the count of bytes it received.
async fn echo() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                    counted.fetch_add(n, Ordering::SeqCst);
                    if stream.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, received)
}

/// Writes `message` and reads the answer: `None` when the connection ends
/// without one.
async fn ask(stream: &mut TcpStream, message: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(message).await.ok()?;
    let mut answer = vec![0u8; message.len()];
    stream.read_exact(&mut answer).await.ok()?;
    Some(answer)
}

#[tokio::test]
async fn each_fault_does_what_it_says() {
    let (upstream, received) = echo().await;
    let proxy = Proxy::start(&upstream).await;

    // No fault: through and back.
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(
        ask(&mut stream, b"ping").await.as_deref(),
        Some(&b"ping"[..])
    );

    // A dropped reply: the server got the request, the client no answer.
    proxy.drop_replies(1);
    assert_eq!(ask(&mut stream, b"once").await, None);
    assert_eq!(
        received.load(Ordering::SeqCst),
        8,
        "the request went through"
    );
    assert_eq!(proxy.dropped(), 1);
    // Only one: a new connection works again.
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(
        ask(&mut stream, b"back").await.as_deref(),
        Some(&b"back"[..])
    );

    // A reset connection: nothing reaches the server.
    proxy.reset_connections(1);
    let mut reset = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(ask(&mut reset, b"lost").await, None);
    assert_eq!(received.load(Ordering::SeqCst), 12);

    // Refused while refusing; open connections are left alone.
    proxy.refuse(true);
    let mut refused = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(ask(&mut refused, b"nope").await, None);
    assert_eq!(
        ask(&mut stream, b"open").await.as_deref(),
        Some(&b"open"[..])
    );
    proxy.refuse(false);

    // A delay each way.
    proxy.delay(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(
        ask(&mut stream, b"slow").await.as_deref(),
        Some(&b"slow"[..])
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    proxy.delay(Duration::ZERO);

    // A cut path closes what is open.
    proxy.cut();
    assert_eq!(ask(&mut stream, b"gone").await, None);
    assert_eq!(proxy.accepted(), 4);
}
