//! Helpers shared by the tests: serving a role on a loopback port, an HTTP
//! client, shop commands, and Pub/Sub push envelopes; and ([`deployment`])
//! the shop deployed on the emulators, the e2e test's and the demo's.

#![allow(dead_code)]

pub mod deployment;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use angzarr_cloudrun::{App, Role, server};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook};
use angzarr_core::{AggregateKey, MessageAttributes};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::{Message, Name};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const PROTOBUF: &str = "application/x-protobuf";

/// A role served on a loopback port until dropped (or `stop`ped).
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Served {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A free loopback listener, bound before the app exists (so discovery can
/// name its URL first).
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Serves `app`'s `role` on `listener`.
pub fn serve(app: std::sync::Arc<App>, role: Role, listener: TcpListener) -> Served {
    let addr = listener.local_addr().unwrap();
    let router = app.router(role).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server::serve(
            listener,
            router,
            app.adapters(),
            Duration::from_secs(2),
            async {
                let _ = stopped.await;
            },
        )
        .await;
    });
    Served {
        addr,
        stop: Some(stop),
    }
}

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends a request; returns the status and the body.
pub async fn send(
    method: http::Method,
    url: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: Vec<u8>,
) -> (http::StatusCode, Bytes) {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(content_type) = content_type {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    if let Some(accept) = accept {
        request = request.header(http::header::ACCEPT, accept);
    }
    let response = client()
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

pub async fn get(url: &str) -> (http::StatusCode, Bytes) {
    send(http::Method::GET, url, None, None, Vec::new()).await
}

/// `POST {base}/v1/commands` with a protobuf command of `message` to `domain`/`root`.
pub async fn command<M: Name>(
    base: &str,
    domain: &str,
    root: uuid::Uuid,
    correlation_id: &str,
    message: &M,
) -> (http::StatusCode, Option<CommandResponse>, Bytes) {
    let request = CommandRequest {
        command: Some(angzarr_runtime::authoring::command(
            domain,
            root,
            correlation_id,
            message,
        )),
        ..Default::default()
    };
    let (status, body) = send(
        http::Method::POST,
        &format!("{base}/v1/commands"),
        Some(PROTOBUF),
        Some(PROTOBUF),
        request.encode_to_vec(),
    )
    .await;
    let response = status
        .is_success()
        .then(|| CommandResponse::decode(body.clone()).unwrap());
    (status, response, body)
}

/// The Pub/Sub push body carrying `book`, as the service would push it.
pub fn envelope(book: &EventBook, message_id: &str) -> Vec<u8> {
    let attributes = MessageAttributes::of(book).unwrap();
    let attributes: serde_json::Map<String, serde_json::Value> = attributes
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect();
    serde_json::json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(book.encode_to_vec()),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": "2025-01-01T00:00:00Z",
        },
        "subscription": "projects/angzarr-test/subscriptions/test",
    })
    .to_string()
    .into_bytes()
}

/// `POST {url}` with a push envelope of `book`.
pub async fn push(url: &str, book: &EventBook, message_id: &str) -> (http::StatusCode, Bytes) {
    send(
        http::Method::POST,
        url,
        Some("application/json"),
        None,
        envelope(book, message_id),
    )
    .await
}

/// Polls `check` until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let give_up = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < give_up,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The type names (after the last `/`) of a book's events.
pub fn event_types(book: &EventBook) -> Vec<String> {
    book.pages
        .iter()
        .filter_map(|page| match &page.payload {
            Some(angzarr_core::proto::event_page::Payload::Event(any)) => {
                any.type_url.rsplit('/').next().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

/// The stored events of `domain`/`root`, through a gateway's events route.
pub async fn stored(base: &str, domain: &str, root: uuid::Uuid) -> EventBook {
    let (status, body) = send(
        http::Method::GET,
        &format!("{base}/v1/events/{domain}/{root}"),
        None,
        Some(PROTOBUF),
        Vec::new(),
    )
    .await;
    assert_eq!(
        status,
        http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    EventBook::decode(body).unwrap()
}

/// A one-page book of `event` for `domain`/`root` at `sequence`.
pub fn book_of<M: Name>(domain: &str, root: uuid::Uuid, sequence: u32, event: &M) -> EventBook {
    use angzarr_core::proto::page_header::SequenceType;
    use angzarr_core::proto::{EventPage, PageHeader, event_page};
    let key = AggregateKey::new(domain, root).unwrap();
    EventBook {
        cover: Some(key.cover("corr-test".to_owned())),
        snapshot: None,
        pages: vec![EventPage {
            header: Some(PageHeader {
                sequence_type: Some(SequenceType::Sequence(sequence)),
            }),
            payload: Some(event_page::Payload::Event(angzarr_core::any::pack(event))),
            ..Default::default()
        }],
        next_sequence: sequence + 1,
    }
}
