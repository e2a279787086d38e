//! Cloud Map discovery against a real moto server.
//!
//! Run: `cargo test -p angzarr-discovery-cloudmap --test moto`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use angzarr_core::{Error, ServiceDiscovery};
use angzarr_discovery_cloudmap::setup::{
    create_http_namespace, create_service, deregister_instance, register_instance,
};
use angzarr_discovery_cloudmap::{Builder, RequestCounter};
use angzarr_testkit::emulators::{self, Kind};

fn builder(endpoint: &str, namespace: &str) -> Builder {
    Builder::new()
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_credentials("testing", "testing")
        .with_namespace(namespace)
}

fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A fresh namespace in the shared moto, and a client to fill it.
async fn namespace() -> (Builder, aws_sdk_servicediscovery::Client, String) {
    let endpoint = emulators::moto().await.endpoint();
    let name = emulators::unique_name("ns");
    let configured = builder(&endpoint, &name);
    let client = configured.clone().build_client().await.unwrap();
    let id = create_http_namespace(&client, &name).await.unwrap();
    (configured, client, id)
}

#[tokio::test]
async fn discovers_aggregates_projectors_and_sagas() {
    let (configured, client, ns) = namespace().await;
    let order = create_service(&client, &ns, "order-aggregate")
        .await
        .unwrap();
    register_instance(
        &client,
        &order,
        "order-1",
        attributes(&[("url", "http://order.internal:8080/")]),
    )
    .await
    .unwrap();
    let projectors = create_service(&client, &ns, "projectors").await.unwrap();
    register_instance(
        &client,
        &projectors,
        "p-2",
        attributes(&[("url", "http://web.internal/"), ("name", "web-view")]),
    )
    .await
    .unwrap();
    register_instance(
        &client,
        &projectors,
        "p-1",
        attributes(&[("url", "http://audit.internal/"), ("name", "audit")]),
    )
    .await
    .unwrap();
    let sagas = create_service(&client, &ns, "order-sagas").await.unwrap();
    register_instance(
        &client,
        &sagas,
        "fulfil",
        attributes(&[("url", "http://fulfil.internal/")]),
    )
    .await
    .unwrap();

    let discovery = configured.build().await.unwrap();
    assert_eq!(
        discovery.aggregate("Order").await.unwrap().as_str(),
        "http://order.internal:8080/",
        "domains match case-insensitively"
    );
    let found = discovery.projectors().await.unwrap();
    let names: Vec<_> = found.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["audit", "web-view"]);
    assert_eq!(found[1].url.as_str(), "http://web.internal/");
    let order_sagas = discovery.sagas("order").await.unwrap();
    assert_eq!(order_sagas.len(), 1);
    assert_eq!(
        order_sagas[0].name, "fulfil",
        "instance id without a name attribute"
    );
    assert!(discovery.sagas("cart").await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_domain_is_not_found_naming_it() {
    let (configured, client, ns) = namespace().await;
    // A service without instances and no service at all read the same.
    create_service(&client, &ns, "empty-aggregate")
        .await
        .unwrap();
    let discovery = configured.build().await.unwrap();
    for domain in ["empty", "nowhere"] {
        let err = discovery.aggregate(domain).await.unwrap_err();
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains(&format!("`{domain}`"))),
            "{err:?}"
        );
    }
}

/// Within the TTL the cached answer is served without a request, even after
/// the registration changed; after the TTL (or `clear_cache`) the new
/// registration is seen, with one request.
#[tokio::test]
async fn answers_are_cached_for_the_ttl() {
    let (configured, client, ns) = namespace().await;
    let service = create_service(&client, &ns, "cart-aggregate")
        .await
        .unwrap();
    let reregister = |from: &'static str, to: &'static str, url: &'static str| {
        let client = client.clone();
        let service = service.clone();
        async move {
            deregister_instance(&client, &service, from).await.unwrap();
            register_instance(&client, &service, to, attributes(&[("url", url)]))
                .await
                .unwrap();
        }
    };
    register_instance(
        &client,
        &service,
        "cart-1",
        attributes(&[("url", "http://one/")]),
    )
    .await
    .unwrap();

    // A TTL far longer than the test: every hit is a hit, however slow the machine.
    let counter = RequestCounter::new();
    let long = configured
        .clone()
        .with_cache_ttl(Duration::from_secs(600))
        .with_request_counter(counter.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        long.aggregate("cart").await.unwrap().as_str(),
        "http://one/"
    );
    assert_eq!(counter.get(), 1, "a miss is one DiscoverInstances");
    reregister("cart-1", "cart-2", "http://two/").await;
    assert_eq!(
        long.aggregate("cart").await.unwrap().as_str(),
        "http://one/"
    );
    assert_eq!(counter.get(), 1, "a hit costs no request");
    long.clear_cache();
    assert_eq!(
        long.aggregate("cart").await.unwrap().as_str(),
        "http://two/"
    );
    assert_eq!(counter.get(), 2);

    // A short TTL: after waiting past it, the change is seen.
    let ttl = Duration::from_secs(1);
    let short = configured
        .with_cache_ttl(ttl)
        .with_request_counter(counter.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        short.aggregate("cart").await.unwrap().as_str(),
        "http://two/"
    );
    reregister("cart-2", "cart-3", "http://three/").await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    counter.reset();
    assert_eq!(
        short.aggregate("cart").await.unwrap().as_str(),
        "http://three/"
    );
    assert_eq!(counter.get(), 1, "an expired entry is fetched again");
}

/// moto re-registering an instance id lists it twice; discovery shows it once.
#[tokio::test]
async fn a_repeated_instance_is_listed_once() {
    let (configured, client, ns) = namespace().await;
    let service = create_service(&client, &ns, "projectors").await.unwrap();
    for _ in 0..2 {
        register_instance(
            &client,
            &service,
            "p",
            attributes(&[("url", "http://p/"), ("name", "p")]),
        )
        .await
        .unwrap();
    }
    let discovery = configured.build().await.unwrap();
    assert_eq!(discovery.projectors().await.unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_moto_is_a_retriable_error() {
    let mut moto = emulators::start_private(Kind::Moto).await;
    let discovery = builder(&moto.endpoint(), "gone")
        .with_timeouts(Duration::from_millis(500), Duration::from_secs(2))
        .with_max_attempts(1)
        .build()
        .await
        .unwrap();
    moto.stop();
    let err = discovery.aggregate("order").await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(discovery.projectors().await.unwrap_err().is_retriable());
}

#[tokio::test]
async fn build_names_the_wrong_key() {
    let no_namespace = Builder::new()
        .with_region("us-east-1")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&no_namespace, Error::Config { key, .. } if key == "discovery.aws_cloudmap.namespace"),
        "{no_namespace:?}"
    );
    let bad_template = Builder::new()
        .with_region("us-east-1")
        .with_namespace("n")
        .with_service_template("aggregate")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&bad_template, Error::Config { key, .. } if key == "discovery.aws_cloudmap.service_template"),
        "{bad_template:?}"
    );
}
