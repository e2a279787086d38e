//! Faults injected for real: [`Proxy`], a loopback TCP proxy in front of an
//! emulator or server that can delay traffic, drop a reply after the request
//! went through, reset connections, or refuse them.
//!
//! The faults are those a network gives a client of a cloud service: the
//! request reached the server and was applied, but the answer never came
//! back (the *ambiguous* outcome); the connection was reset; nothing
//! answered. The proxy knows nothing of the protocol: it works on bytes, so
//! "a reply" is what the server sends after the client last wrote.
//!
//! ```no_run
//! # async fn example() {
//! use angzarr_testkit::faults::Proxy;
//! let redis = angzarr_testkit::emulators::redis().await;
//! let proxy = Proxy::start(&redis.host_port()).await;
//! proxy.drop_replies(1); // the next reply is swallowed and the connection closed
//! let url = format!("redis://{}", proxy.address());
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The faults in force, shared by every connection of one [`Proxy`].
#[derive(Debug, Default)]
struct Faults {
    /// Replies still to swallow (each then closes its connection).
    drop_replies: AtomicUsize,
    /// Connections still to reset as soon as they are accepted.
    resets: AtomicUsize,
    /// Whether new connections are refused (closed before any byte).
    refusing: AtomicBool,
    /// A pause before every chunk forwarded, in milliseconds.
    delay_ms: AtomicU64,
    /// Replies swallowed so far.
    dropped: AtomicUsize,
    /// Connections accepted so far.
    accepted: AtomicUsize,
}

/// A loopback TCP proxy to one upstream address; stopped when dropped.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    faults: Arc<Faults>,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`
    /// (`host:port`), with no fault in force.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let faults = Arc::new(Faults::default());
        let connections = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let accept = tokio::spawn({
            let (faults, connections) = (faults.clone(), connections.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    faults.accepted.fetch_add(1, Ordering::SeqCst);
                    let task = tokio::spawn(serve(client, upstream.clone(), faults.clone()));
                    connections
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(task);
                }
            }
        });
        Proxy {
            address,
            faults,
            accept,
            connections,
        }
    }

    /// Where clients connect: `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Swallows the next `count` replies: each is read from the server and
    /// thrown away, and its client connection is closed, so the request was
    /// applied but its answer is lost.
    pub fn drop_replies(&self, count: usize) {
        self.faults.drop_replies.store(count, Ordering::SeqCst);
    }

    /// Resets the next `count` connections as soon as they are accepted.
    pub fn reset_connections(&self, count: usize) {
        self.faults.resets.store(count, Ordering::SeqCst);
    }

    /// Refuses (closes at once) every new connection until called with
    /// `false`; open connections are left alone.
    pub fn refuse(&self, refusing: bool) {
        self.faults.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Pauses before forwarding each chunk, either way.
    pub fn delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.faults.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Closes every open connection (the server stays up), as a network
    /// path that breaks does.
    pub fn cut(&self) {
        for task in self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Replies swallowed so far.
    pub fn dropped(&self) -> usize {
        self.faults.dropped.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.faults.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Takes one from `counter` if it is above 0.
fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Closes `stream` with a TCP reset rather than an orderly shutdown.
// `set_linger` is deprecated because a non-zero linger blocks the thread on
// drop; a zero linger does not block: the close sends RST at once.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Forwards one client connection to the upstream, applying the faults.
async fn serve(client: TcpStream, upstream: String, faults: Arc<Faults>) {
    if faults.refusing.load(Ordering::SeqCst) {
        drop(client);
        return;
    }
    if take_one(&faults.resets) {
        reset(client);
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        reset(client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = {
        let faults = faults.clone();
        async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pause(&faults).await;
                if server_write.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    };
    let replies = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if take_one(&faults.drop_replies) {
                // The server answered; the client never hears it: the
                // connection closes (both halves dropped) with the reply
                // unsent.
                faults.dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
            pause(&faults).await;
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either direction ending ends the connection (both halves dropped).
    tokio::select! {
        () = requests => {}
        () = replies => {}
    }
}

async fn pause(faults: &Faults) {
    let ms = faults.delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
