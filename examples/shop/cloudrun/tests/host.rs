//! The host suite (`angzarr_testkit::suites::host`) on the memory host: the
//! Rust shop in one `all` service on the memory backends, every book the
//! memory bus carries pushed twice to the projectors and sagas that read
//! its domain, as Pub/Sub push would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use angzarr_cloudrun::triggers::{projector_path, saga_path};
use angzarr_cloudrun::{Adapters, App, Handlers, Role, ServerSettings};
use angzarr_core::config::Config;
use angzarr_core::error::wire::error_from_http;
use angzarr_core::memory::MemorySubscription;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, EventPage};
use angzarr_core::{Error, Subscription};
use angzarr_example_shop::summary::OrderSummaries;
use angzarr_example_shop_cloudrun as shop;
use angzarr_testkit::suites::host::{ShopHost, Summary, shop_flow};
use http::StatusCode;
use prost::Message;

use support::*;

struct MemoryHost {
    served: Served,
    handlers: Handlers,
    published: MemorySubscription,
}

async fn memory_host() -> MemoryHost {
    let adapters = Adapters::from_config(&Config::default()).await.unwrap();
    let published = adapters
        .memory_bus
        .as_ref()
        .unwrap()
        .subscribe("host-suite");
    let handlers = shop::handlers(&OrderSummaries::default()).unwrap();
    let app = Arc::new(App::new(adapters, handlers.clone(), &ServerSettings::default()).unwrap());
    MemoryHost {
        served: serve(app, Role::All, listener().await),
        handlers,
        published,
    }
}

#[async_trait::async_trait]
impl ShopHost for MemoryHost {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, Error> {
        let url = format!("{}/v1/commands", self.served.url());
        let (status, body) = support::send(
            http::Method::POST,
            &url,
            Some(PROTOBUF),
            Some(PROTOBUF),
            request.encode_to_vec(),
        )
        .await;
        if status == StatusCode::OK {
            CommandResponse::decode(body).map_err(|e| Error::unavailable("gateway", e.to_string()))
        } else {
            Err(error_from_http("gateway", status, &body))
        }
    }

    async fn settle(&self) -> Result<(), String> {
        let base = self.served.url();
        loop {
            let deliveries = self
                .published
                .receive(100, Duration::from_millis(100))
                .await
                .map_err(|e| e.to_string())?;
            if deliveries.is_empty() {
                return Ok(());
            }
            for delivery in deliveries {
                let domain = delivery.attributes.domain.clone();
                let mut paths = Vec::new();
                for p in self
                    .handlers
                    .projectors()
                    .iter()
                    .filter(|p| p.wants(&domain))
                {
                    paths.push(projector_path(p.handler.name()));
                }
                for s in self.handlers.sagas().iter().filter(|s| s.wants(&domain)) {
                    paths.push(saga_path(s.handler.name()));
                }
                for path in paths {
                    for _ in 0..2 {
                        let (status, body) = push(
                            &format!("{base}{path}"),
                            &delivery.book,
                            &delivery.message_id,
                        )
                        .await;
                        if !status.is_success() {
                            return Err(format!(
                                "{path}: {status} {}",
                                String::from_utf8_lossy(&body)
                            ));
                        }
                    }
                }
                self.published
                    .ack(&delivery.ack_id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        let url = format!("{}/v1/events/{domain}/{root}", self.served.url());
        let (status, body) =
            support::send(http::Method::GET, &url, None, Some(PROTOBUF), vec![]).await;
        if status != StatusCode::OK {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(EventBook::decode(body).map_err(|e| e.to_string())?.pages)
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        let url = format!("{}/v1/read-models/order-summary/{order}", self.served.url());
        let (status, body) = get(&url).await;
        match status {
            StatusCode::OK => {
                let json: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                Ok(Some(Summary::from_json(&json)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(format!("{other}: {}", String::from_utf8_lossy(&body))),
        }
    }
}

#[tokio::test]
async fn the_shop_flow_on_the_memory_host() {
    shop_flow(&memory_host().await).await;
}
