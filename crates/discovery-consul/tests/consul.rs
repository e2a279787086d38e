//! `ConsulDiscovery` against a faithful fake of the Consul agent's HTTP API.
//!
//! No Consul agent can be installed on the test machines, so an axum server
//! on a loopback port answers the three endpoints the adapter calls, with
//! bodies shaped as Consul documents them:
//! `GET /v1/health/service/:service` (array of `{Node, Service, Checks}`),
//! `GET /v1/catalog/service/:service` (array of catalog entries) and
//! `GET /v1/catalog/services` (name → tags). The fake filters by
//! `?passing` the way Consul does (only entries whose every check passes),
//! refuses requests without the ACL token with 403 like Consul, and records
//! every request so the tests can assert what was asked.
//!
//! Run: `cargo test -p angzarr-discovery-consul`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_core::{Error, ServiceDiscovery};
use angzarr_discovery_consul::{Builder, ConsulDiscovery};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One registered service instance.
#[derive(Clone)]
struct Instance {
    service: &'static str,
    id: &'static str,
    node: &'static str,
    node_address: &'static str,
    service_address: &'static str,
    port: u16,
    tags: Vec<&'static str>,
    passing: bool,
}

impl Instance {
    fn new(service: &'static str, id: &'static str, address: &'static str, port: u16) -> Self {
        Self {
            service,
            id,
            node: "node-1",
            node_address: "10.0.0.1",
            service_address: address,
            port,
            tags: Vec::new(),
            passing: true,
        }
    }

    fn node_json(&self) -> Value {
        json!({
            "ID": "40e4a748-2192-161a-0510-9bf59fe950b5",
            "Node": self.node,
            "Address": self.node_address,
            "Datacenter": "dc1",
            "TaggedAddresses": { "lan": self.node_address, "wan": self.node_address },
            "Meta": { "instance_type": "t2.medium" },
            "CreateIndex": 5,
            "ModifyIndex": 5
        })
    }

    /// An element of `/v1/health/service/:service`.
    fn health_json(&self) -> Value {
        let status = if self.passing { "passing" } else { "critical" };
        json!({
            "Node": self.node_json(),
            "Service": {
                "ID": self.id,
                "Service": self.service,
                "Tags": self.tags,
                "Address": self.service_address,
                "TaggedAddresses": {},
                "Meta": null,
                "Port": self.port,
                "Weights": { "Passing": 10, "Warning": 1 },
                "EnableTagOverride": false,
                "Proxy": { "MeshGateway": {}, "Expose": {} },
                "Connect": {},
                "Namespace": "default",
                "CreateIndex": 7,
                "ModifyIndex": 7
            },
            "Checks": [
                {
                    "Node": self.node, "CheckID": "serfHealth", "Name": "Serf Health Status",
                    "Status": "passing", "Notes": "", "Output": "Agent alive and reachable",
                    "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Namespace": "default"
                },
                {
                    "Node": self.node, "CheckID": format!("service:{}", self.id),
                    "Name": format!("Service '{}' check", self.service),
                    "Status": status, "Notes": "", "Output": "",
                    "ServiceID": self.id, "ServiceName": self.service,
                    "ServiceTags": self.tags, "Namespace": "default"
                }
            ]
        })
    }

    /// An element of `/v1/catalog/service/:service`.
    fn catalog_json(&self) -> Value {
        json!({
            "ID": "40e4a748-2192-161a-0510-9bf59fe950b5",
            "Node": self.node,
            "Address": self.node_address,
            "Datacenter": "dc1",
            "TaggedAddresses": { "lan": self.node_address, "wan": self.node_address },
            "NodeMeta": { "somekey": "somevalue" },
            "CreateIndex": 51,
            "ModifyIndex": 51,
            "ServiceAddress": self.service_address,
            "ServiceEnableTagOverride": false,
            "ServiceID": self.id,
            "ServiceName": self.service,
            "ServicePort": self.port,
            "ServiceMeta": {},
            "ServiceTaggedAddresses": {},
            "ServiceTags": self.tags,
            "ServiceProxy": { "MeshGateway": {}, "Expose": {} },
            "ServiceConnect": {},
            "Namespace": "default"
        })
    }
}

#[derive(Default)]
struct Agent {
    instances: Vec<Instance>,
    token: Option<&'static str>,
    /// Every request: `path?query`.
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Agent>>;

/// Consul answers 403 "ACL not found" when a token is required and missing.
fn refused(agent: &Agent, headers: &HeaderMap) -> Option<Response> {
    match agent.token {
        Some(token)
            if headers.get("x-consul-token").and_then(|v| v.to_str().ok()) != Some(token) =>
        {
            Some((StatusCode::FORBIDDEN, "ACL not found").into_response())
        }
        _ => None,
    }
}

async fn health(
    State(agent): State<Shared>,
    Path(service): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut agent = agent.lock().unwrap();
    let query = query.unwrap_or_default();
    agent
        .requests
        .push(format!("/v1/health/service/{service}?{query}"));
    if let Some(refused) = refused(&agent, &headers) {
        return refused;
    }
    let passing_only = query
        .split('&')
        .any(|p| p == "passing" || p == "passing=true");
    if !passing_only {
        // The adapter must only ever ask for healthy instances.
        return (
            StatusCode::BAD_REQUEST,
            "test fake: `passing` was not requested",
        )
            .into_response();
    }
    let entries: Vec<Value> = agent
        .instances
        .iter()
        .filter(|i| i.service == service && i.passing)
        .map(Instance::health_json)
        .collect();
    Json(entries).into_response()
}

async fn catalog_service(
    State(agent): State<Shared>,
    Path(service): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut agent = agent.lock().unwrap();
    agent
        .requests
        .push(format!("/v1/catalog/service/{service}"));
    if let Some(refused) = refused(&agent, &headers) {
        return refused;
    }
    let entries: Vec<Value> = agent
        .instances
        .iter()
        .filter(|i| i.service == service)
        .map(Instance::catalog_json)
        .collect();
    Json(entries).into_response()
}

async fn catalog_services(State(agent): State<Shared>, headers: HeaderMap) -> Response {
    let mut agent = agent.lock().unwrap();
    agent.requests.push("/v1/catalog/services".into());
    if let Some(refused) = refused(&agent, &headers) {
        return refused;
    }
    let mut services = serde_json::Map::new();
    services.insert("consul".into(), json!([]));
    for instance in &agent.instances {
        let tags = services
            .entry(instance.service)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap();
        for tag in &instance.tags {
            if !tags.contains(&json!(tag)) {
                tags.push(json!(tag));
            }
        }
    }
    Json(Value::Object(services)).into_response()
}

/// Starts the fake agent on a free loopback port.
async fn fake_agent(instances: Vec<Instance>, token: Option<&'static str>) -> (String, Shared) {
    let agent: Shared = Arc::new(Mutex::new(Agent {
        instances,
        token,
        requests: Vec::new(),
    }));
    let app = Router::new()
        .route("/v1/health/service/{service}", get(health))
        .route("/v1/catalog/service/{service}", get(catalog_service))
        .route("/v1/catalog/services", get(catalog_services))
        .with_state(agent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, agent)
}

fn requests(agent: &Shared) -> Vec<String> {
    agent.lock().unwrap().requests.clone()
}

fn discovery(address: &str, ttl: Duration) -> ConsulDiscovery {
    Builder::new()
        .with_address(address)
        .with_cache_ttl(ttl)
        .build()
        .unwrap()
}

#[tokio::test]
async fn healthy_instances_only_round_robin_with_node_address_fallback() {
    let mut sick = Instance::new("order-aggregate", "order-3", "10.0.0.13", 8080);
    sick.passing = false;
    let mut secure = Instance::new("order-aggregate", "order-2", "", 8443);
    secure.tags = vec!["https", "v2"];
    let (address, agent) = fake_agent(
        vec![
            Instance::new("order-aggregate", "order-1", "10.0.0.11", 8080),
            secure,
            sick,
        ],
        None,
    )
    .await;
    let discovery = discovery(&address, Duration::ZERO);

    let mut seen = HashSet::new();
    for _ in 0..4 {
        seen.insert(discovery.aggregate("Order").await.unwrap().to_string());
    }
    assert_eq!(
        seen,
        HashSet::from([
            "http://10.0.0.11:8080/".to_owned(),
            // No service address: the node's, and `https` from the tag.
            "https://10.0.0.1:8443/".to_owned(),
        ]),
        "both healthy instances, never the failing one"
    );
    let asked = requests(&agent);
    assert_eq!(asked.len(), 4, "no cache with a TTL of 0: {asked:?}");
    assert!(
        asked
            .iter()
            .all(|r| r == "/v1/health/service/order-aggregate?passing=true")
    );
}

#[tokio::test]
async fn answers_are_cached_for_the_ttl_and_still_rotate() {
    let (address, agent) = fake_agent(
        vec![
            Instance::new("cart-items-aggregate", "a", "10.0.0.21", 80),
            Instance::new("cart-items-aggregate", "b", "10.0.0.22", 80),
        ],
        None,
    )
    .await;
    let discovery = discovery(&address, Duration::from_secs(60));
    let first = discovery.aggregate("cart_items").await.unwrap();
    let second = discovery.aggregate("CART-ITEMS").await.unwrap();
    let third = discovery.aggregate("cart-items").await.unwrap();
    assert_ne!(first, second, "round robin over the cached instances");
    assert_eq!(first, third);
    assert_eq!(requests(&agent).len(), 1, "one request within the TTL");
}

#[tokio::test]
async fn the_acl_token_is_sent_and_required() {
    let instances = vec![Instance::new("order-aggregate", "o", "10.0.0.5", 9000)];
    let (address, agent) = fake_agent(instances, Some("secret-token")).await;

    let without = discovery(&address, Duration::ZERO);
    let err = without.aggregate("order").await.unwrap_err();
    assert!(
        !err.is_retriable(),
        "a refused token is not retriable: {err:?}"
    );
    assert!(err.to_string().contains("403"), "{err}");

    let with = Builder::new()
        .with_address(&address)
        .with_token("secret-token")
        .build()
        .unwrap();
    assert_eq!(
        with.aggregate("order").await.unwrap().as_str(),
        "http://10.0.0.5:9000/"
    );
    assert_eq!(requests(&agent).len(), 2);
}

#[tokio::test]
async fn no_healthy_instance_is_unavailable_and_no_service_is_not_found() {
    let mut down = Instance::new("order-aggregate", "o", "10.0.0.5", 9000);
    down.passing = false;
    let (address, agent) = fake_agent(vec![down], None).await;
    let discovery = discovery(&address, Duration::from_secs(60));

    let err = discovery.aggregate("order").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_retriable());

    match discovery.aggregate("cart").await {
        Err(Error::NotFound(message)) => assert!(message.contains("`cart-aggregate`"), "{message}"),
        other => panic!("expected not found, got {other:?}"),
    }
    assert_eq!(
        requests(&agent),
        vec![
            "/v1/health/service/order-aggregate?passing=true",
            "/v1/catalog/service/order-aggregate",
            "/v1/health/service/cart-aggregate?passing=true",
            "/v1/catalog/service/cart-aggregate",
        ]
    );
}

#[tokio::test]
async fn projectors_and_sagas_are_found_by_tag() {
    let mut summary = Instance::new("summary-projector", "s", "10.0.1.1", 7000);
    summary.tags = vec!["angzarr-projector"];
    let mut fulfil = Instance::new("fulfilment-saga", "f", "10.0.1.2", 7001);
    fulfil.tags = vec!["angzarr-saga=order-fulfillment", "angzarr-saga=cart"];
    let mut other = Instance::new("billing-saga", "b", "10.0.1.3", 7002);
    other.tags = vec!["angzarr-saga=invoice"];
    let (address, _agent) = fake_agent(vec![summary, fulfil, other], None).await;
    let discovery = discovery(&address, Duration::from_secs(5));

    let projectors = discovery.projectors().await.unwrap();
    assert_eq!(projectors.len(), 1);
    assert_eq!(projectors[0].name, "summary-projector");
    assert_eq!(projectors[0].url.as_str(), "http://10.0.1.1:7000/");

    let sagas = discovery.sagas("Order_Fulfillment").await.unwrap();
    assert_eq!(sagas.len(), 1);
    assert_eq!(sagas[0].name, "fulfilment-saga");
    assert_eq!(discovery.sagas("cart").await.unwrap().len(), 1);
    assert!(discovery.sagas("shipping").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_agent_is_retriable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let discovery = Builder::new()
        .with_address(address)
        .with_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = discovery.aggregate("order").await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
}
