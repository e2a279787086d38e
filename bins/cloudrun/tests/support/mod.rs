//! The Cloud Run harness the host suite (`angzarr_testkit::suites::host`)
//! runs on, shared with the shop example's tests: a push endpoint that
//! delivers every Pub/Sub push twice (at-least-once delivery) and knows
//! when pushes have stopped, and a gateway client (commands, stored events).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, EventPage};
use angzarr_core::{Error, error::wire::error_from_http};
use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";
/// No push for this long (and none in flight): delivery has settled.
const QUIET: Duration = Duration::from_millis(2500);

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pushes seen by the [`Activity::proxy`]s of one deployment.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    last: std::sync::Mutex<Instant>,
}

impl Activity {
    /// No push seen yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            last: std::sync::Mutex::new(Instant::now()),
        })
    }

    fn touch(&self) {
        *self.last.lock().unwrap() = Instant::now();
    }

    fn quiet(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.last.lock().unwrap().elapsed() > QUIET
    }

    /// Waits until no push is in flight and none came for a while.
    pub async fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        // A push starts a moment after the command that published it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while !self.quiet() {
            if Instant::now() > deadline {
                return Err("pushes kept coming for 90 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// A push endpoint in front of `target` that delivers every push to it
    /// twice and answers with the first answer's status; returns its URL.
    pub async fn proxy(self: &Arc<Self>, target: String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let activity = self.clone();
        let forward = move |request: axum::extract::Request| {
            let (target, activity) = (target.clone(), activity.clone());
            async move {
                activity.in_flight.fetch_add(1, Ordering::SeqCst);
                activity.touch();
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let uri = format!("{target}{}", parts.uri.path());
                let mut first = None;
                for _ in 0..2 {
                    let mut forwarded = http::Request::post(&uri);
                    for (name, value) in &parts.headers {
                        if name != http::header::HOST {
                            forwarded = forwarded.header(name, value);
                        }
                    }
                    let status = match client()
                        .request(forwarded.body(Full::new(body.clone())).unwrap())
                        .await
                    {
                        Ok(answer) => answer.status(),
                        Err(_) => http::StatusCode::BAD_GATEWAY,
                    };
                    first.get_or_insert(status);
                }
                activity.touch();
                activity.in_flight.fetch_sub(1, Ordering::SeqCst);
                http::Response::builder()
                    .status(first.unwrap_or(http::StatusCode::BAD_GATEWAY))
                    .body(Body::empty())
                    .unwrap()
            }
        };
        let app = axum::Router::new().fallback(forward);
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

/// `POST {gateway}/v1/commands` in protobuf; the answer, or the error as a
/// client decodes it.
pub async fn send_command(
    gateway: &str,
    request: CommandRequest,
) -> Result<CommandResponse, Error> {
    let http_request = http::Request::post(format!("{gateway}/v1/commands"))
        .header(http::header::CONTENT_TYPE, PROTOBUF)
        .header(http::header::ACCEPT, PROTOBUF)
        .body(Full::new(Bytes::from(request.encode_to_vec())))
        .unwrap();
    let answer = client()
        .request(http_request)
        .await
        .map_err(|e| Error::unavailable("gateway", e.to_string()))?;
    let status = answer.status();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    if status == http::StatusCode::OK {
        CommandResponse::decode(body).map_err(|e| Error::unavailable("gateway", e.to_string()))
    } else {
        Err(error_from_http("gateway", status, &body))
    }
}

/// `GET {gateway}/v1/events/{domain}/{root}`: every stored event.
pub async fn stored_events(
    gateway: &str,
    domain: &str,
    root: uuid::Uuid,
) -> Result<Vec<EventPage>, String> {
    let request = http::Request::get(format!("{gateway}/v1/events/{domain}/{root}"))
        .header(http::header::ACCEPT, PROTOBUF)
        .body(Full::default())
        .unwrap();
    let (status, body) = fetch(request).await?;
    if status != http::StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(EventBook::decode(body).map_err(|e| e.to_string())?.pages)
}

/// `GET {url}` as JSON, if it answers 200.
pub async fn get_json(url: &str) -> Result<Option<serde_json::Value>, String> {
    let request = http::Request::get(url).body(Full::default()).unwrap();
    let (status, body) = fetch(request).await?;
    match status {
        http::StatusCode::OK => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| e.to_string()),
        http::StatusCode::NOT_FOUND => Ok(None),
        other => Err(format!("{other}: {}", String::from_utf8_lossy(&body))),
    }
}

async fn fetch(request: http::Request<Full<Bytes>>) -> Result<(http::StatusCode, Bytes), String> {
    let answer = client().request(request).await.map_err(|e| e.to_string())?;
    let status = answer.status();
    let body = answer
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
