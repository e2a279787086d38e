//! The Redis backend against a real `redis-server` started by the testkit:
//! every store conformance suite, a server restart mid-test, AUTH, and the
//! commands each operation sends.
//!
//! Run: `cargo test -p angzarr-store-redis --test redis`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_core::proto::Snapshot;
use angzarr_core::{
    AggregateKey, Error, EventStore, FiringGuard, LoadRange, RateLimiter, SnapshotStore,
};
use angzarr_store_redis::{Builder, RedisBackend};
use angzarr_testkit::emulators::{self, Kind};
use angzarr_testkit::suites::{event, fresh_key};
use futures::StreamExt;

/// A backend on the shared server with a key prefix of its own.
async fn backend() -> RedisBackend {
    let redis = emulators::redis().await;
    Builder::new()
        .with_url(redis.endpoint())
        .with_key_prefix(emulators::unique_name("angzarr"))
        .build()
        .unwrap()
}

mod event_store {
    use super::*;
    angzarr_testkit::event_store_suites!(async {
        Arc::new(backend().await.event_store()) as Arc<dyn EventStore>
    });
}

mod snapshot_store {
    use super::*;
    angzarr_testkit::snapshot_store_suites!(async {
        Arc::new(backend().await.snapshot_store()) as Arc<dyn SnapshotStore>
    });
}

mod firing_guard {
    use super::*;
    angzarr_testkit::firing_guard_suites!(async {
        Arc::new(backend().await.firing_guard()) as Arc<dyn FiringGuard>
    });
}

mod rate_limiter {
    use super::*;
    angzarr_testkit::rate_limiter_suites!(async {
        Arc::new(backend().await.rate_limiter()) as Arc<dyn RateLimiter>
    });
}

/// A raw connection for setting the server up and reading its statistics.
async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Stopping the server makes the call in flight fail with a retriable
/// error; after a restart (which empties a server without persistence) the
/// same store works again without being rebuilt.
#[tokio::test]
async fn a_server_restart_is_retriable_and_then_recovers() {
    let mut server = emulators::start_private(Kind::Redis).await;
    let backend = Builder::new()
        .with_url(server.endpoint())
        .with_key_prefix("restart")
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let store = backend.event_store();
    let key = fresh_key("restart");
    assert_eq!(store.append(&key, 0, vec![event("a")]).await.unwrap(), 1);

    server.stop();
    let err = store.append(&key, 1, vec![event("b")]).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    let err = store.load(&key, LoadRange::all()).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");

    server.restart().await;
    // The pooled connections died with the old server: the first call on
    // one is retried once on a new connection, invisibly.
    assert_eq!(
        store.next_sequence(&key).await.unwrap(),
        0,
        "the restart wiped the data"
    );
    assert_eq!(
        store
            .append(&key, 0, vec![event("c"), event("d")])
            .await
            .unwrap(),
        2
    );
    let labels: Vec<_> = store
        .load(&key, LoadRange::all())
        .await
        .unwrap()
        .iter()
        .map(angzarr_testkit::suites::label)
        .collect();
    assert_eq!(labels, vec!["c", "d"], "no partial batch, no stale event");
}

/// A server that stops answering but keeps its connections and data (the
/// testkit has no SIGSTOP pause yet, so `CLIENT PAUSE ... ALL` stands in):
/// the call gives up after the timeout with a retriable error (a timeout is
/// not retried on a new connection); once the server answers again the state is
/// consistent: the timed-out batch is there whole (the server ran it when
/// the pause ended) or not at all, never in part.
#[tokio::test]
async fn a_hung_server_times_out_retriably_and_no_batch_is_partial() {
    let server = emulators::start_private(Kind::Redis).await;
    let mut admin = raw(&server.endpoint()).await;
    let store = Builder::new()
        .with_url(server.endpoint())
        .with_key_prefix("hung")
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .event_store();
    let key = fresh_key("hung");
    assert_eq!(store.append(&key, 0, vec![event("a")]).await.unwrap(), 1);

    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1_500)
        .arg("ALL")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let batch: Vec<_> = (0..50).map(|i| event(&format!("b{i}"))).collect();
    let err = store.append(&key, 1, batch).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1_400),
        "the call gave up before the server answered again: {:?}",
        started.elapsed()
    );

    // Once the pause is over, every call works again on the same store.
    let mut next = None;
    for _ in 0..50 {
        match store.next_sequence(&key).await {
            Ok(sequence) => {
                next = Some(sequence);
                break;
            }
            Err(e) => {
                assert!(e.is_retriable(), "{e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let next = next.expect("the server answers again after the pause");
    assert!(
        next == 1 || next == 51,
        "whole batch or nothing, got {next}"
    );
    let pages = store.load(&key, LoadRange::all()).await.unwrap();
    assert_eq!(pages.len() as u32, next);
    // A writer that retries from the conflict's actual sequence carries on.
    match store.append(&key, 1, vec![event("c")]).await {
        Ok(n) => assert_eq!((n, next), (2, 1)),
        Err(Error::SequenceConflict { actual, .. }) => assert_eq!(actual, next),
        Err(e) => panic!("{e:?}"),
    }
}

/// A server that requires a password: the password in the URL works, and
/// without it every call fails with a non-retriable error.
#[tokio::test]
async fn auth_with_the_password_in_the_url() {
    let server = emulators::start_private(Kind::Redis).await;
    let mut admin = raw(&server.endpoint()).await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret-pw")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();

    let url = format!("redis://:s3cret-pw@{}", server.host_port());
    let store = Builder::new().with_url(url).build().unwrap().event_store();
    let key = fresh_key("auth");
    assert_eq!(store.append(&key, 0, vec![event("a")]).await.unwrap(), 1);

    let without = Builder::new()
        .with_url(server.endpoint())
        .build()
        .unwrap()
        .event_store();
    let err = without.next_sequence(&key).await.unwrap_err();
    assert!(
        !err.is_retriable(),
        "a missing password is not retriable: {err:?}"
    );

    let wrong = format!("redis://:wrong@{}", server.host_port());
    let err = Builder::new()
        .with_url(wrong)
        .build()
        .unwrap()
        .event_store()
        .next_sequence(&key)
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable(),
        "a wrong password is not retriable: {err:?}"
    );
}

/// TLS (`rediss://`) with a private CA, as Memorystore's in-transit
/// encryption needs: the testkit's server also listens for TLS on a second
/// port (set at run time with `CONFIG SET tls-port`), with a test-only
/// certificate for 127.0.0.1 signed by the testkit's CA (`angzarr_testkit::tls`). Without that CA
/// the handshake fails, with it every call works.
#[tokio::test]
async fn tls_with_a_private_ca() {
    let server = emulators::start_private(Kind::Redis).await;
    let dir = angzarr_testkit::tls::DIR;
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut admin = raw(&server.endpoint()).await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(format!("{dir}/server.crt"))
        .arg("tls-key-file")
        .arg(format!("{dir}/server.key"))
        .arg("tls-ca-cert-file")
        .arg(format!("{dir}/ca.crt"))
        .arg("tls-auth-clients")
        .arg("no")
        .arg("tls-port")
        .arg(tls_port)
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let url = format!("rediss://127.0.0.1:{tls_port}");

    // As deployed: `storage.redis.ca_cert_file` names the CA's PEM file.
    let config = angzarr_core::config::RedisConfig {
        url: angzarr_core::config::Secret::new(url.clone()),
        key_prefix: "tls".into(),
        ca_cert_file: Some(format!("{dir}/ca.crt")),
        ..Default::default()
    };
    let store = Builder::from_config(&config).build().unwrap().event_store();
    let key = fresh_key("tls");
    assert_eq!(
        store
            .append(&key, 0, vec![event("a"), event("b")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.load(&key, LoadRange::all()).await.unwrap().len(), 2);

    let untrusted = Builder::new()
        .with_url(&url)
        .with_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .event_store();
    assert!(
        untrusted.next_sequence(&key).await.is_err(),
        "a certificate from an unknown CA is refused"
    );
    let plain = Builder::new()
        .with_url(format!("redis://127.0.0.1:{tls_port}"))
        .with_ca_cert_pem(b"unused".to_vec())
        .build();
    assert!(matches!(plain, Err(Error::Config { .. })), "{plain:?}");
    let missing = Builder::new()
        .with_url(&url)
        .with_ca_cert_file(format!("{dir}/no-such-ca.crt"))
        .build();
    assert!(
        matches!(&missing, Err(Error::Config { key, .. }) if key == "storage.redis.ca_cert_file"),
        "{missing:?}"
    );
}

/// Nothing listens: a retriable error, after the timeout at most (twice:
/// the one retry).
#[tokio::test]
async fn an_unreachable_server_is_retriable() {
    let mut server = emulators::start_private(Kind::Redis).await;
    let url = server.endpoint();
    server.stop();
    let guard = Builder::new()
        .with_url(url)
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .firing_guard();
    let err = guard
        .acquire("k", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
}

/// The calls of every command since the last reset, from `INFO commandstats`.
async fn commands(admin: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(admin)
        .await
        .unwrap();
    let counts = info
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| name != "info" && !name.starts_with("config"))
        .collect();
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(admin)
        .await
        .unwrap();
    counts
}

fn counted(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

/// The commands each operation sends, as the README lists them
/// (`INFO commandstats` counts commands run inside scripts too).
#[tokio::test]
async fn commands_per_operation() {
    let server = emulators::start_private(Kind::Redis).await;
    let mut admin = raw(&server.endpoint()).await;
    let backend = Builder::new()
        .with_url(server.endpoint())
        .with_key_prefix("measure")
        .build()
        .unwrap();
    let (store, snapshots) = (backend.event_store(), backend.snapshot_store());
    let (guard, limiter) = (backend.firing_guard(), backend.rate_limiter());
    let key = fresh_key("measure");
    let warm = AggregateKey::new(key.domain.clone(), uuid::Uuid::new_v4()).unwrap();

    // The first call of each script on a fresh server loads it once.
    commands(&mut admin).await;
    store.append(&warm, 0, vec![event("w")]).await.unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[
            ("sadd", 2),
            ("evalsha", 2),
            ("script|load", 1),
            ("llen", 1),
            ("rpush", 1),
            ("lpush", 1),
            ("ltrim", 1)
        ])
    );

    store
        .append(&key, 0, vec![event("a"), event("b")])
        .await
        .unwrap();
    // One pipelined round trip for the roots index, one EVALSHA (which
    // also remembers the append's id: LPUSH + LTRIM).
    assert_eq!(
        commands(&mut admin).await,
        counted(&[
            ("sadd", 2),
            ("evalsha", 1),
            ("llen", 1),
            ("rpush", 1),
            ("lpush", 1),
            ("ltrim", 1)
        ])
    );
    store.append(&key, 2, vec![event("c")]).await.unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[
            ("evalsha", 1),
            ("llen", 1),
            ("rpush", 1),
            ("lpush", 1),
            ("ltrim", 1)
        ])
    );
    // A conflict also reads the remembered appends (not this one's).
    assert!(store.append(&key, 1, vec![event("late")]).await.is_err());
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("llen", 1), ("lrange", 1)])
    );
    store.load(&key, LoadRange::all()).await.unwrap();
    assert_eq!(commands(&mut admin).await, counted(&[("lrange", 1)]));
    store.next_sequence(&key).await.unwrap();
    assert_eq!(commands(&mut admin).await, counted(&[("llen", 1)]));
    let listed: Vec<_> = store.aggregate_roots(Some(&key.domain)).collect().await;
    assert_eq!(listed.len(), 2);
    assert_eq!(commands(&mut admin).await, counted(&[("sscan", 1)]));
    let listed: Vec<_> = store.aggregate_roots(None).collect().await;
    assert_eq!(listed.len(), 2);
    assert_eq!(commands(&mut admin).await, counted(&[("sscan", 2)]));

    snapshots.put(&key, Snapshot::default()).await.unwrap();
    assert_eq!(commands(&mut admin).await, counted(&[("set", 1)]));
    snapshots.get(&key).await.unwrap();
    assert_eq!(commands(&mut admin).await, counted(&[("get", 1)]));
    snapshots.delete(&key).await.unwrap();
    assert_eq!(commands(&mut admin).await, counted(&[("del", 1)]));

    // Load the guard and rate scripts (first use: NOSCRIPT, SCRIPT LOAD, EVALSHA).
    let warm_lease = acquired(&guard, "warm").await;
    guard.release(&warm_lease).await.unwrap();
    let warm_lease = acquired(&guard, "warm").await;
    guard
        .complete(&warm_lease, Duration::from_secs(60))
        .await
        .unwrap();
    limiter
        .check("warm", 10, Duration::from_secs(10))
        .await
        .unwrap();
    commands(&mut admin).await;

    let lease = acquired(&guard, "measure").await;
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("set", 1)])
    );
    guard
        .complete(&lease, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("get", 1), ("set", 1)])
    );
    guard
        .acquire("measure", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("set", 1), ("get", 1), ("pttl", 1)])
    );
    let lease = acquired(&guard, "measure-release").await;
    commands(&mut admin).await;
    guard.release(&lease).await.unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("get", 1), ("del", 1)])
    );
    limiter
        .check("measure", 10, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("incr", 1), ("pttl", 1), ("pexpire", 1)])
    );
    limiter
        .check("measure", 10, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        commands(&mut admin).await,
        counted(&[("evalsha", 1), ("incr", 1), ("pttl", 1)])
    );
}

async fn acquired(guard: &impl FiringGuard, key: &str) -> angzarr_core::Lease {
    match guard.acquire(key, Duration::from_secs(30)).await.unwrap() {
        angzarr_core::Acquisition::Acquired(lease) => lease,
        other => panic!("expected to acquire `{key}`, got {other:?}"),
    }
}

/// The server applies an append and its reply is lost (a proxy swallows
/// it): the store's retry on a new connection recognises its own append and
/// answers it, so the events are stored once and the caller sees success,
/// not a conflict that a commutative command would answer by appending again.
#[tokio::test]
async fn an_append_whose_reply_is_lost_is_recognised_not_repeated() {
    let redis = emulators::redis().await;
    let proxy = angzarr_testkit::faults::Proxy::start(&redis.host_port()).await;
    let backend = Builder::new()
        .with_url(format!("redis://{}", proxy.address()))
        .with_key_prefix(emulators::unique_name("lost"))
        .build()
        .unwrap();
    let store = backend.event_store();
    let key = fresh_key("lost");
    // Warms the connection and loads the script.
    store.append(&key, 0, vec![event("a")]).await.unwrap();

    proxy.drop_replies(1);
    let next = store
        .append(&key, 1, vec![event("b"), event("c")])
        .await
        .unwrap();
    assert_eq!(proxy.dropped(), 1, "the reply was lost");
    assert_eq!(next, 3);
    let stored: Vec<String> = store
        .load(&key, LoadRange::all())
        .await
        .unwrap()
        .iter()
        .map(angzarr_testkit::suites::label)
        .collect();
    assert_eq!(stored, ["a", "b", "c"], "stored once");

    // Another writer's append in between is no reason to answer success.
    let stale = store.append(&key, 1, vec![event("x")]).await.unwrap_err();
    assert!(
        matches!(stale, Error::SequenceConflict { actual: 3, .. }),
        "{stale}"
    );
}
