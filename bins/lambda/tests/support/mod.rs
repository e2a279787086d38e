//! An AWS deployment of an application with the shop's domains (`cart`,
//! `order`, `fulfillment`) on moto, for end-to-end tests and demos: DynamoDB
//! tables, SNS topics fanned out to SQS queues, the four functions of a crate
//! under a real Lambda Runtime API (`cargo lambda watch`), the gateway
//! invoked with API Gateway HTTP API (v2) events, and a local event-source
//! poller that feeds the queues to the trigger functions as real SQS events,
//! honouring `batchItemFailures`.
//!
//! Used by the stock functions' tests here and, through `#[path]`, by the
//! shop example's (`examples/shop/lambda/tests`), whose functions are its own
//! binaries. [`Functions`] (tables, `cargo lambda watch`, invoking) is shared
//! with the example's Kinesis deployment.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Write;
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use angzarr_bus_sqs::setup::{Queue, create_queue, create_topic, subscribe_queue};
use angzarr_core::any;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventPage};
use angzarr_core::{AggregateKey, EventStore, EventStoreExt};
use angzarr_runtime::authoring::command;
use angzarr_store_dynamodb::{DynamoDb, TableNames, create_tables};
use anyhow::{Context, bail};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::{Message, Name};
use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";
/// Failed records become visible again after this long.
pub const VISIBILITY_SECS: u64 = 2;
/// The gateway's body limit in this deployment.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The DynamoDB tables and the four functions under `cargo lambda watch`,
/// whatever the messaging; the Runtime API and the functions stop when it
/// is dropped.
pub struct Functions {
    /// The moto server.
    pub endpoint: String,
    /// The prefix of every resource name of this deployment.
    pub prefix: String,
    /// The event store's tables.
    pub dynamodb: DynamoDb,
    /// A Lambda client of `cargo lambda watch`'s invoke endpoint.
    pub lambda: aws_sdk_lambda::Client,
    /// What comes before the role in the functions' names (their binaries').
    pub function_prefix: String,
    watch: Child,
}

/// The SNS → SQS deployment (the functions are reached through [`Deref`]).
pub struct Deployment {
    /// The tables and the functions.
    pub functions: Functions,
    /// A client of the moto server's SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// The saga trigger's queue (`cart` and `order` topics).
    pub saga_queue: Queue,
    /// The projector trigger's queue (`order` and `fulfillment` topics).
    pub projector_queue: Queue,
}

impl Deref for Deployment {
    type Target = Functions;

    fn deref(&self) -> &Functions {
        &self.functions
    }
}

/// What one poll of a queue did.
#[derive(Debug, Default)]
pub struct Poll {
    /// Records handed to the function.
    pub records: usize,
    /// Message ids the function reported as failed (left in the queue).
    pub failed: Vec<String>,
    /// Bodies of the records, by message id.
    pub bodies: HashMap<String, String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which functions run, and how.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The crate whose binaries are the functions (`cargo lambda watch` runs there).
    pub dir: std::path::PathBuf,
    /// What comes before the role in each function's (binary's) name.
    pub function_prefix: String,
    /// Cargo features beside the default ones.
    pub features: Vec<String>,
    /// More environment of the functions (the application's own).
    pub env: Vec<(String, String)>,
}

impl Spec {
    /// The functions of the crate at `dir`, named `{function_prefix}{role}`.
    pub fn new(dir: impl Into<std::path::PathBuf>, function_prefix: &str) -> Self {
        Self {
            dir: dir.into(),
            function_prefix: function_prefix.to_owned(),
            features: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds a variable to the functions' environment.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Adds cargo features.
    pub fn features(mut self, features: &[&str]) -> Self {
        self.features
            .extend(features.iter().map(|f| (*f).to_owned()));
        self
    }
}

impl Functions {
    /// Creates the DynamoDB tables named after `prefix` on the moto server
    /// at `endpoint` and starts `cargo lambda watch` for `spec` with the
    /// environment of the store, the functions, `messaging` (the
    /// `ANGZARR_MESSAGING__*` variables) and the spec's own; returns once it
    /// listens.
    pub async fn start(
        spec: &Spec,
        endpoint: String,
        prefix: String,
        messaging: Vec<(&'static str, String)>,
    ) -> anyhow::Result<Self> {
        let tables = TableNames::with_prefix(&prefix);
        let dynamodb = angzarr_store_dynamodb::Builder::new()
            .with_tables(tables.clone())
            .with_region(REGION)
            .with_endpoint(&endpoint)
            .with_credentials("testing", "testing")
            .build()
            .await?;
        create_tables(dynamodb.client(), &tables).await?;

        let port = free_port();
        let invoke = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = [
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("RUST_LOG", "info".to_owned()),
            ("ANGZARR_STORAGE__TYPE", "aws_dynamodb".to_owned()),
            (
                "ANGZARR_STORAGE__AWS_DYNAMODB__TABLE_NAME",
                tables.events.clone(),
            ),
            (
                "ANGZARR_STORAGE__AWS_DYNAMODB__SNAPSHOT_TABLE_NAME",
                tables.snapshots.clone(),
            ),
            (
                "ANGZARR_STORAGE__AWS_DYNAMODB__GUARD_TABLE_NAME",
                tables.guard.clone(),
            ),
            (
                "ANGZARR_STORAGE__AWS_DYNAMODB__RATE_LIMIT_TABLE_NAME",
                tables.rate_limits.clone(),
            ),
            ("ANGZARR_STORAGE__AWS_DYNAMODB__ENDPOINT", endpoint.clone()),
            (
                "ANGZARR_LAMBDA__AGGREGATE_FUNCTION",
                format!("{}aggregate", spec.function_prefix),
            ),
            ("ANGZARR_LAMBDA__INVOKE_ENDPOINT", invoke.clone()),
            (
                "ANGZARR_GATEWAY__MAX_BODY_BYTES",
                MAX_BODY_BYTES.to_string(),
            ),
        ]
        .into_iter()
        .chain(messaging)
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(spec.env.iter().cloned());
        let dir = spec.dir.as_path();
        // Cargo's scratch directory for integration tests (target/tmp); the
        // system's for a demo.
        let tmp = option_env!("CARGO_TARGET_TMPDIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&tmp)?;
        let env_file = tmp.join(format!("{prefix}.env"));
        let mut file = std::fs::File::create(&env_file)?;
        for (key, value) in &env {
            writeln!(file, "{key}={value}")?;
        }
        let log = std::fs::File::create(tmp.join(format!("{prefix}-watch.log")))?;
        let watch = {
            use std::os::unix::process::CommandExt;
            let mut command = Command::new("cargo");
            command
                .args(["lambda", "watch", "--ignore-changes", "--quiet"])
                .args([
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                    &port.to_string(),
                ])
                .args(["--timeout", "600"])
                .arg("--env-file")
                .arg(&env_file);
            if !spec.features.is_empty() {
                command.args(["--features", &spec.features.join(",")]);
            }
            command
                .current_dir(dir)
                .env_remove("ANGZARR_CONFIG")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .context("starting `cargo lambda watch` (install: pip install cargo-lambda)")?
        };
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_lambda::config::Region::new(REGION))
                .endpoint_url(invoke)
                .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                    "testing", "testing", None, None, "e2e",
                ))
                .http_client(angzarr_aws::default_https_client())
                .build(),
        );
        let functions = Self {
            endpoint,
            prefix,
            dynamodb,
            lambda,
            function_prefix: spec.function_prefix.clone(),
            watch,
        };
        functions.wait_listening(port).await?;
        Ok(functions)
    }

    async fn wait_listening(&self, port: u16) -> anyhow::Result<()> {
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("cargo lambda watch did not listen on {port} within 60 s")
    }

    /// Invokes the function of `role` (binary `{function_prefix}{role}`,
    /// which plays the role its name ends with) with `payload` through the
    /// Runtime API emulator.
    pub async fn invoke(&self, role: &str, payload: &Value) -> anyhow::Result<Value> {
        let function = format!("{}{role}", self.function_prefix);
        let output = self
            .lambda
            .invoke()
            .function_name(&function)
            .payload(Blob::new(serde_json::to_vec(payload)?))
            .send()
            .await
            .with_context(|| format!("invoking {function}"))?;
        let body = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(error) = output.function_error {
            bail!(
                "{function} failed ({error}): {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// Sends an HTTP request to the gateway function as an API Gateway HTTP
    /// API (v2) event; returns the status, content type and body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, String, Vec<u8>)> {
        let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": {
                "content-type": content_type,
                "accept": content_type,
                "content-length": body.len().to_string(),
                "host": "shop.example",
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "shop",
                "domainName": "shop.example",
                "domainPrefix": "shop",
                "http": {
                    "method": method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "angzarr-e2e"
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": "$default",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 1767225600000u64
            },
            "body": STANDARD.encode(body),
            "isBase64Encoded": true
        });
        let answer = self.invoke("gateway", &event).await?;
        let status = answer["statusCode"].as_u64().context("statusCode")? as u16;
        let headers = &answer["headers"];
        let content_type = headers["content-type"]
            .as_str()
            .or_else(|| headers["Content-Type"].as_str())
            .unwrap_or_default()
            .to_owned();
        let text = answer["body"].as_str().unwrap_or_default();
        let body = if answer["isBase64Encoded"].as_bool().unwrap_or(false) {
            STANDARD.decode(text)?
        } else {
            text.as_bytes().to_vec()
        };
        Ok((status, content_type, body))
    }

    /// Every stored event of `domain`/`root`.
    pub async fn events(&self, domain: &str, root: uuid::Uuid) -> anyhow::Result<Vec<EventPage>> {
        let key = AggregateKey::new(domain, root)?;
        let store = self.dynamodb.event_store();
        let pages = store.load_all(&key).await?;
        let _ = store.limits();
        Ok(pages)
    }
}

impl Deployment {
    /// Creates the resources on the shared moto server (names starting with
    /// `prefix`, unique): the tables, one SNS topic per domain, the saga and
    /// projector queues subscribed to them, and starts the functions of
    /// `spec` publishing to SNS.
    pub async fn start(spec: &Spec, prefix: String) -> anyhow::Result<Self> {
        let endpoint = angzarr_testkit::emulators::moto().await.endpoint();
        let (sns, sqs) = angzarr_bus_sqs::Builder::new()
            .with_endpoint(&endpoint)
            .with_region(REGION)
            .with_credentials("testing", "testing")
            .build_clients()
            .await?;
        let visibility = Duration::from_secs(VISIBILITY_SECS);
        let saga_queue = create_queue(&sqs, &format!("{prefix}-saga"), false, visibility).await?;
        let projector_queue =
            create_queue(&sqs, &format!("{prefix}-projector"), false, visibility).await?;
        let mut topic_arn_prefix = String::new();
        for domain in ["cart", "order", "fulfillment"] {
            let arn = create_topic(&sns, &format!("{prefix}-events-{domain}"), false).await?;
            topic_arn_prefix = arn.trim_end_matches(domain).to_owned();
            if domain != "fulfillment" {
                subscribe_queue(&sns, &sqs, &arn, &saga_queue, true).await?;
            }
            if domain != "cart" {
                subscribe_queue(&sns, &sqs, &arn, &projector_queue, true).await?;
            }
        }
        let messaging = vec![
            ("ANGZARR_MESSAGING__TYPE", "aws_sqs".to_owned()),
            (
                "ANGZARR_MESSAGING__AWS_SQS__TOPIC_ARN_PREFIX",
                topic_arn_prefix,
            ),
            ("ANGZARR_MESSAGING__AWS_SQS__ENDPOINT", endpoint.clone()),
        ];
        let functions = Functions::start(spec, endpoint, prefix, messaging).await?;
        Ok(Self {
            functions,
            sqs,
            saga_queue,
            projector_queue,
        })
    }

    /// One poll of `queue` for `function`, as Lambda's event source mapping
    /// does it: up to 10 records in one SQS event; records not reported in
    /// `batchItemFailures` are deleted, failed ones are left to become
    /// visible again. With `duplicate`, the same event is delivered a second
    /// time (at-least-once delivery), after the first.
    pub async fn poll(
        &self,
        queue: &Queue,
        function: &str,
        duplicate: bool,
    ) -> anyhow::Result<Poll> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        let mut poll = Poll {
            records: messages.len(),
            ..Poll::default()
        };
        if messages.is_empty() {
            return Ok(poll);
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::String(v)))
                    .collect();
                let message_attributes: serde_json::Map<String, Value> = m
                    .message_attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            json!({
                                "stringValue": v.string_value,
                                "stringListValues": [],
                                "binaryListValues": [],
                                "dataType": v.data_type,
                            }),
                        )
                    })
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue.arn,
                    "awsRegion": REGION,
                })
            })
            .collect();
        for m in &messages {
            poll.bodies.insert(
                m.message_id.clone().unwrap_or_default(),
                m.body.clone().unwrap_or_default(),
            );
        }
        let event = json!({ "Records": records });
        let answer = self.invoke(function, &event).await?;
        poll.failed = failures(&answer);
        if duplicate {
            // The duplicate's own answer is not acted on: its records are
            // already settled by the first delivery.
            let again = self.invoke(function, &event).await?;
            let _ = failures(&again);
        }
        for m in &messages {
            let id = m.message_id.clone().unwrap_or_default();
            if !poll.failed.contains(&id) {
                self.sqs
                    .delete_message()
                    .queue_url(&queue.url)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await?;
            }
        }
        Ok(poll)
    }

    /// Polls both queues until a round delivers nothing; returns every
    /// failed message id seen.
    pub async fn drain(&self, duplicate: bool) -> anyhow::Result<Vec<String>> {
        let mut failed = Vec::new();
        for _ in 0..60 {
            let saga = self
                .poll(&self.saga_queue, "saga-trigger", duplicate)
                .await?;
            let projector = self
                .poll(&self.projector_queue, "projector-trigger", duplicate)
                .await?;
            failed.extend(saga.failed);
            failed.extend(projector.failed);
            if saga.records == 0 && projector.records == 0 {
                return Ok(failed);
            }
        }
        bail!("the queues did not drain in 60 rounds")
    }

    /// How many messages `queue` holds, visible or in flight.
    pub async fn queue_depth(&self, queue: &Queue) -> anyhow::Result<u64> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        Ok([
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| attributes.get(k)?.parse::<u64>().ok())
        .sum())
    }
}

/// The protobuf media type of the gateway's API.
pub const PROTOBUF: &str = "application/x-protobuf";

/// Sends `message` to `domain`/`root` through the gateway function as
/// protobuf; the answer must be 200.
pub async fn send<M: Name>(
    functions: &Functions,
    domain: &str,
    root: uuid::Uuid,
    message: &M,
) -> CommandResponse {
    let request = CommandRequest {
        command: Some(command(domain, root, "corr-e2e", message)),
        ..Default::default()
    };
    let (status, content_type, body) = functions
        .http("POST", "/v1/commands", PROTOBUF, &request.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, PROTOBUF);
    CommandResponse::decode(body.as_slice()).unwrap()
}

/// The event type names of `pages`.
pub fn names(pages: &[EventPage]) -> Vec<String> {
    pages
        .iter()
        .map(|p| match &p.payload {
            Some(Payload::Event(e)) => any::type_name(&e.type_url).to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Posts `body` as a command and returns the status and the JSON error.
pub async fn error(functions: &Functions, content_type: &str, body: &[u8]) -> (u16, Value) {
    let (status, answer_type, answer) = functions
        .http("POST", "/v1/commands", content_type, body)
        .await
        .unwrap();
    assert_eq!(answer_type, "application/json");
    (status, serde_json::from_slice(&answer).unwrap())
}

/// The ids of a `batchItemFailures` answer.
pub fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Functions {
    fn drop(&mut self) {
        // `cargo lambda watch` runs the functions as its children, in the
        // process group started above: stop that group.
        let group = format!("-{}", self.watch.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.watch.wait();
    }
}

impl Functions {
    /// Sends `request` through the gateway function as protobuf: the answer,
    /// or the error decoded from the gateway's JSON body as a client does.
    pub async fn command(
        &self,
        request: &CommandRequest,
    ) -> Result<CommandResponse, angzarr_core::Error> {
        let (status, _, body) = self
            .http("POST", "/v1/commands", PROTOBUF, &request.encode_to_vec())
            .await
            .map_err(|e| angzarr_core::Error::unavailable("gateway function", e.to_string()))?;
        let status = http::StatusCode::from_u16(status)
            .map_err(|e| angzarr_core::Error::unavailable("gateway function", e.to_string()))?;
        if status == http::StatusCode::OK {
            CommandResponse::decode(body.as_slice())
                .map_err(|e| angzarr_core::Error::unavailable("gateway function", e.to_string()))
        } else {
            Err(angzarr_core::error::wire::error_from_http(
                "gateway function",
                status,
                &body,
            ))
        }
    }
}

/// Where a deployment's read model is read (the application's own).
#[async_trait::async_trait]
pub trait ReadModel: Send + Sync {
    /// The summary of `order`.
    async fn summary(
        &self,
        deployment: &Deployment,
        order: uuid::Uuid,
    ) -> anyhow::Result<Option<angzarr_testkit::suites::host::Summary>>;
}

/// A [`Deployment`] as the host suite drives it
/// (`angzarr_testkit::suites::host`).
pub struct Host<'a, R> {
    /// The deployment.
    pub deployment: &'a Deployment,
    /// Its read model.
    pub read_model: R,
}

#[async_trait::async_trait]
impl<R: ReadModel> angzarr_testkit::suites::host::ShopHost for Host<'_, R> {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, angzarr_core::Error> {
        self.deployment.command(&request).await
    }

    async fn settle(&self) -> Result<(), String> {
        let failed = self
            .deployment
            .drain(true)
            .await
            .map_err(|e| e.to_string())?;
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("records failed: {failed:?}"))
        }
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        self.deployment
            .events(domain, root)
            .await
            .map_err(|e| e.to_string())
    }

    async fn summary(
        &self,
        order: uuid::Uuid,
    ) -> Result<Option<angzarr_testkit::suites::host::Summary>, String> {
        self.read_model
            .summary(self.deployment, order)
            .await
            .map_err(|e| e.to_string())
    }
}
