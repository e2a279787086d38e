//! Each emulator really answers in its own protocol, the shared instances are
//! shared, a private Redis survives a restart, and names are unique and valid.
//!
//! Run with `cargo test -p angzarr-testkit --test emulators`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::time::Duration;

use angzarr_testkit::emulators::{self, Kind, unique_name};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 exchange over plain TCP; returns the status code and
/// the body (read by `Content-Length`, as both emulators send it).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let request = http_request(port, method, path, headers, body);
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut stream).await
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path} within 30 s"))
}

fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

/// Reads one HTTP/1.1 response: the status code and the body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let text = String::from_utf8_lossy(&response);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
            if rest.len() >= length {
                let status = head.split(' ').nth(1).and_then(|code| code.parse().ok());
                let status = status.unwrap_or_else(|| panic!("not HTTP: {head:?}"));
                return (status, rest.to_owned());
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response: {text:?}");
        response.extend_from_slice(&chunk[..n]);
    }
}

/// One RESP command; returns the raw reply.
async fn resp(stream: &mut TcpStream, args: &[&str]) -> String {
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(command.as_bytes()).await.unwrap();
    let mut reply = vec![0; 512];
    let n = stream.read(&mut reply).await.unwrap();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

async fn redis_connect(port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await
}

async fn dynamodb(port: u16, action: &str, body: &str) -> (u16, String) {
    let headers = dynamodb_headers(action);
    let headers: Vec<_> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    http(port, "POST", "/", &headers, body).await
}

/// A DynamoDB JSON request's headers (moto reads the account from the
/// credential, and does not check the signature).
fn dynamodb_headers(action: &str) -> [(&'static str, String); 3] {
    [
        ("Content-Type", "application/x-amz-json-1.0".to_owned()),
        ("X-Amz-Target", format!("DynamoDB_20120810.{action}")),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=00"
                .to_owned(),
        ),
    ]
}

#[tokio::test]
async fn moto_serves_dynamodb() {
    let moto = emulators::moto().await;
    assert_eq!(moto.kind(), Kind::Moto);
    assert_eq!(moto.endpoint(), format!("http://127.0.0.1:{}", moto.port()));

    let table = unique_name("moto-table");
    let create = format!(
        r#"{{"TableName":"{table}","KeySchema":[{{"AttributeName":"id","KeyType":"HASH"}}],
            "AttributeDefinitions":[{{"AttributeName":"id","AttributeType":"S"}}],
            "BillingMode":"PAY_PER_REQUEST"}}"#
    );
    let (status, body) = dynamodb(moto.port(), "CreateTable", &create).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = dynamodb(moto.port(), "ListTables", "{}").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("\"{table}\"")),
        "{table} not in {body}"
    );
}

/// Clients racing per trial in [`moto_applies_conditional_writes_one_at_a_time`].
const RACERS: usize = 8;
/// Trials in [`moto_applies_conditional_writes_one_at_a_time`]. Stock moto
/// lets several racers win in about one trial of ten.
const TRIALS: usize = 100;

/// The testkit's moto applies DynamoDB requests one at a time: 8 clients
/// racing `PutItem` with `attribute_not_exists` on one key have exactly one
/// winner, whose item is the one stored, in every one of 100 trials.
///
/// Stock `moto_server` (threaded, no lock) fails this check: point the test
/// at one with `MOTO_RACE_PORT=PORT` to see it (docs/reliability.md
/// has the figures).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_applies_conditional_writes_one_at_a_time() {
    let port = match std::env::var("MOTO_RACE_PORT") {
        Ok(port) => port.parse().expect("MOTO_RACE_PORT is a port number"),
        Err(_) => emulators::moto().await.port(),
    };
    let table = unique_name("race");
    let create = format!(
        r#"{{"TableName":"{table}","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}}],
            "AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}}],
            "BillingMode":"PAY_PER_REQUEST"}}"#
    );
    let (status, body) = dynamodb(port, "CreateTable", &create).await;
    assert_eq!(status, 200, "{body}");

    let headers = dynamodb_headers("PutItem");
    let headers: Vec<_> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    // moto reads the item, then parses the condition, then writes: a long
    // condition (true whenever `pk` is absent) widens that window, so that a
    // server without the lock is caught more often.
    let padding: Vec<_> = (0..40)
        .map(|i| format!("attribute_not_exists(x{i})"))
        .collect();
    let condition = format!("attribute_not_exists(pk) AND ({})", padding.join(" OR "));
    let mut split = Vec::new();
    for trial in 0..TRIALS {
        let key = format!("k{trial}");
        // Connect every racer first, then let them all send at once.
        let mut streams = Vec::new();
        for _ in 0..RACERS {
            streams.push(
                TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                    .await
                    .unwrap(),
            );
        }
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
        let racers: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(racer, mut stream)| {
                let body = format!(
                    r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"{key}"}},"racer":{{"N":"{racer}"}}}},
                        "ConditionExpression":"{condition}"}}"#
                );
                let request = http_request(port, "POST", "/", &headers, &body);
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    stream.write_all(request.as_bytes()).await.unwrap();
                    let answer = tokio::time::timeout(
                        Duration::from_secs(30),
                        read_response(&mut stream),
                    );
                    (racer, answer.await.expect("moto answers within 30 s"))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            let (racer, (status, body)) = racer.await.unwrap();
            match status {
                200 => winners.push(racer),
                400 if body.contains("ConditionalCheckFailedException") => {}
                _ => panic!("racer {racer}: unexpected answer {status} {body}"),
            }
        }
        let get = format!(r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"{key}"}}}}}}"#);
        let (status, stored) = dynamodb(port, "GetItem", &get).await;
        assert_eq!(status, 200, "{stored}");
        let stored_is_a_winner = winners
            .iter()
            .any(|w| stored.contains(&format!(r#""racer": {{"N": "{w}"}}"#)));
        if winners.len() != 1 || !stored_is_a_winner {
            split.push(format!(
                "trial {trial}: winners {winners:?}, stored {stored}"
            ));
        }
    }
    assert!(
        split.is_empty(),
        "{} of {TRIALS} trials did not have exactly one winner:\n{}",
        split.len(),
        split.join("\n")
    );
}

#[tokio::test]
async fn moto_resets() {
    let moto = emulators::moto().await;
    // Reset wipes every test's state, so run it on a private moto.
    let private = emulators::start_private(Kind::Moto).await;
    assert_ne!(private.port(), moto.port());
    let (status, body) = http(private.port(), "POST", "/moto-api/reset", &[], "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status": "ok"}"#));
}

#[tokio::test]
async fn pubsub_serves_topics_and_subscriptions() {
    let pubsub = emulators::pubsub().await;
    assert_eq!(pubsub.endpoint(), pubsub.host_port());
    assert_eq!(pubsub.env().0, "PUBSUB_EMULATOR_HOST");
    let port = pubsub.port();
    let json = [("Content-Type", "application/json")];

    let topic = format!("/v1/projects/angzarr/topics/{}", unique_name("topic"));
    let (status, body) = http(port, "PUT", &topic, &json, "{}").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(port, "GET", &topic, &[], "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&topic["/v1/".len()..]), "{body}");

    let subscription = format!("/v1/projects/angzarr/subscriptions/{}", unique_name("sub"));
    let topic_name = &topic["/v1/".len()..];
    let (status, body) = http(
        port,
        "PUT",
        &subscription,
        &json,
        &format!(r#"{{"topic":"{topic_name}"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let publish = r#"{"messages":[{"data":"aGVsbG8="}]}"#; // "hello"
    let (status, body) = http(port, "POST", &format!("{topic}:publish"), &json, publish).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        port,
        "POST",
        &format!("{subscription}:pull"),
        &json,
        r#"{"maxMessages":1}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("aGVsbG8="), "{body}");
}

#[tokio::test]
async fn bigtable_serves_cbt() {
    let bigtable = emulators::bigtable().await;
    assert_eq!(
        bigtable.env(),
        ("BIGTABLE_EMULATOR_HOST", bigtable.host_port())
    );
    let table = unique_name("table");
    let cbt = |args: &[&str]| {
        let mut command = tokio::process::Command::new("cbt");
        // The timeout keeps cbt from outliving a test process that dies.
        command
            .args(["-project", "angzarr", "-instance", "test"])
            .args(["-timeout", "20s"])
            .args(args)
            .env("BIGTABLE_EMULATOR_HOST", bigtable.host_port())
            .kill_on_drop(true);
        command
    };
    let run = |mut command: tokio::process::Command| async move {
        let output = command.output().await.unwrap_or_else(|e| {
            panic!("cannot run `cbt` ({e}): apt-get install -y google-cloud-cli-cbt")
        });
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    run(cbt(&["createtable", &table])).await;
    let tables = run(cbt(&["ls"])).await;
    assert!(
        tables.lines().any(|line| line == table),
        "{table} not in {tables}"
    );
}

#[tokio::test]
async fn redis_sets_and_gets() {
    let redis = emulators::redis().await;
    assert_eq!(
        redis.endpoint(),
        format!("redis://127.0.0.1:{}", redis.port())
    );
    let key = unique_name("key");
    let mut conn = redis_connect(redis.port()).await.unwrap();
    assert_eq!(resp(&mut conn, &["SET", &key, "value"]).await, "+OK\r\n");
    assert_eq!(resp(&mut conn, &["GET", &key]).await, "$5\r\nvalue\r\n");
}

#[tokio::test]
async fn private_redis_stops_and_restarts_on_the_same_port() {
    let mut redis = emulators::start_private(Kind::Redis).await;
    let port = redis.port();
    let mut conn = redis_connect(port).await.unwrap();
    assert_eq!(resp(&mut conn, &["SET", "k", "v"]).await, "+OK\r\n");

    redis.stop();
    assert!(!redis.is_running());
    let refused = redis_connect(port).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // The old connection is dead too.
    let mut buf = [0; 16];
    let dead = conn.write_all(b"*1\r\n$4\r\nPING\r\n").await.is_err()
        || conn.read(&mut buf).await.map_or(true, |n| n == 0);
    assert!(dead);

    redis.restart().await;
    assert!(redis.is_running());
    assert_eq!(redis.port(), port);
    let mut conn = redis_connect(port).await.unwrap();
    assert_eq!(resp(&mut conn, &["PING"]).await, "+PONG\r\n");
    // No persistence: the restarted server starts empty.
    assert_eq!(resp(&mut conn, &["GET", "k"]).await, "$-1\r\n");
}

#[tokio::test]
async fn a_paused_emulator_hangs_then_answers_with_its_state() {
    let mut redis = emulators::start_private(Kind::Redis).await;
    let mut conn = redis_connect(redis.port()).await.unwrap();
    assert_eq!(resp(&mut conn, &["SET", "k", "kept"]).await, "+OK\r\n");

    redis.pause();
    conn.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let mut buf = [0; 64];
    let hung =
        tokio::time::timeout(std::time::Duration::from_millis(300), conn.read(&mut buf)).await;
    assert!(hung.is_err(), "a paused server does not answer");

    redis.resume();
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("a resumed server answers")
        .unwrap();
    assert_eq!(&buf[..n], b"+PONG\r\n");
    assert_eq!(resp(&mut conn, &["GET", "k"]).await, "$4\r\nkept\r\n");
}

#[test]
fn shared_emulators_are_shared_across_runtimes() {
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(emulators::redis()).port()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert!(ports.iter().all(|&port| port == ports[0]), "{ports:?}");
    // The emulator outlives the runtime that started it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = redis_connect(ports[0]).await.unwrap();
        assert_eq!(resp(&mut conn, &["PING"]).await, "+PONG\r\n");
    });
}

#[test]
fn unique_names_are_unique_and_valid_everywhere() {
    let prefixes = [
        "events",
        "Orders_Table.v2",
        "",
        "1-2-3",
        "goog-topic",
        "ÄÖ weird/name",
        &"x".repeat(200),
    ];
    let mut seen = std::collections::HashSet::new();
    for round in 0..200 {
        let name = unique_name(prefixes[round % prefixes.len()]);
        assert!((3..=50).contains(&name.len()), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
        assert!(name.as_bytes()[0].is_ascii_lowercase(), "{name}");
        assert!(
            name.as_bytes()[name.len() - 1].is_ascii_alphanumeric(),
            "{name}"
        );
        assert!(!name.starts_with("goog"), "{name}");
        assert!(!name.contains("--"), "{name}");
        assert!(seen.insert(name.clone()), "{name} twice");
    }
    assert!(unique_name("Orders_Table.v2").starts_with("orders-table-v2-"));
    assert!(unique_name("").starts_with("t-"));
}

#[tokio::test]
#[should_panic(expected = "Address already in use")]
async fn a_failed_start_reports_the_emulator_output() {
    let mut redis = emulators::start_private(Kind::Redis).await;
    redis.stop();
    let _squatter = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, redis.port())).unwrap();
    redis.restart().await;
}
