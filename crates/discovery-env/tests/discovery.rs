//! `EnvDiscovery` and `MeshDiscovery` from explicit variables and
//! configuration (the process environment is never changed).
//!
//! Run: `cargo test -p angzarr-discovery-env`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use angzarr_core::config::{Config, EnvUrlsConfig, GcpMeshConfig};
use angzarr_core::{Error, ServiceDiscovery};
use angzarr_discovery_env::{Builder, MeshDiscovery};

fn config_key(result: angzarr_core::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Config { key, .. }) => key,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn variables_declare_aggregates_projectors_and_sagas() {
    let discovery = Builder::new()
        .with_vars([
            ("ANGZARR_AGGREGATE_ORDER", "https://order.run.app"),
            (
                "ANGZARR_AGGREGATE_ORDER_FULFILLMENT",
                "https://fulfil.run.app/",
            ),
            ("ANGZARR_PROJECTOR_SUMMARY", "http://summary:8080"),
            ("ANGZARR_PROJECTOR_AUDIT", "http://audit:8080"),
            ("ANGZARR_SAGA_ORDER_FULFILLMENT_1", "http://saga-1:8080"),
            ("ANGZARR_SAGA_ORDER_SHIPPING", "http://shipping:8080"),
            ("ANGZARR_STORAGE__TYPE", "memory"),
            ("PATH", "/usr/bin"),
        ])
        .build()
        .unwrap();

    for asked in [
        "order-fulfillment",
        "Order_Fulfillment",
        "ORDER-FULFILLMENT",
    ] {
        assert_eq!(
            discovery.aggregate(asked).await.unwrap().as_str(),
            "https://fulfil.run.app/"
        );
    }
    assert_eq!(
        discovery.aggregate("order").await.unwrap().as_str(),
        "https://order.run.app/"
    );
    let projectors = discovery.projectors().await.unwrap();
    let names: Vec<_> = projectors.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["audit", "summary"],
        "projectors come in name order"
    );

    // The last segment is the saga's name; the rest is the source domain.
    let sagas = discovery.sagas("order-fulfillment").await.unwrap();
    assert_eq!(sagas.len(), 1);
    assert_eq!(
        (sagas[0].name.as_str(), sagas[0].url.as_str()),
        ("1", "http://saga-1:8080/")
    );
    let sagas = discovery.sagas("order").await.unwrap();
    assert_eq!(sagas[0].name, "shipping");
    assert!(discovery.sagas("cart").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_domain_is_not_found_and_named() {
    let discovery = Builder::new()
        .with_vars([("ANGZARR_AGGREGATE_ORDER", "https://order.run.app")])
        .build()
        .unwrap();
    match discovery.aggregate("Cart-Items").await {
        Err(Error::NotFound(message)) => {
            assert!(message.contains("`Cart-Items`"), "{message}");
            assert!(
                message.contains("ANGZARR_AGGREGATE_CART_ITEMS"),
                "{message}"
            );
        }
        other => panic!("expected not found, got {other:?}"),
    }
}

#[test]
fn malformed_entries_name_their_variable_or_key() {
    let build = |name: &str, value: &str| Builder::new().with_vars([(name, value)]).build();
    assert_eq!(
        config_key(build("ANGZARR_AGGREGATE_ORDER", "not a url")),
        "ANGZARR_AGGREGATE_ORDER"
    );
    assert_eq!(
        config_key(build("ANGZARR_AGGREGATE_ORDER", "/relative")),
        "ANGZARR_AGGREGATE_ORDER"
    );
    assert_eq!(
        config_key(build("ANGZARR_PROJECTOR_X", "ftp://x")),
        "ANGZARR_PROJECTOR_X"
    );
    assert_eq!(
        config_key(build("ANGZARR_SAGA_ORDER", "http://x")),
        "ANGZARR_SAGA_ORDER"
    );
    assert_eq!(
        config_key(build("ANGZARR_AGGREGATE_", "http://x")),
        "ANGZARR_AGGREGATE_"
    );
    assert_eq!(
        config_key(build("ANGZARR_AGGREGATE__ORDER", "http://x")),
        "ANGZARR_AGGREGATE__ORDER"
    );

    let mut config = EnvUrlsConfig::default();
    config.aggregates.insert("order".into(), "nope".into());
    assert_eq!(
        config_key(Builder::from_config(&config).build()),
        "discovery.env_urls.aggregates.order"
    );
    let mut config = EnvUrlsConfig::default();
    config.aggregates.insert("ord er".into(), "http://x".into());
    assert_eq!(
        config_key(Builder::from_config(&config).build()),
        "discovery.env_urls.aggregates.ord er"
    );
}

#[tokio::test]
async fn config_entries_merge_and_variables_override_them() {
    let config = Config::from_yaml(
        r#"
discovery:
  type: env_urls
  env_urls:
    aggregates: { order: "http://from-file-order", cart: "http://from-file-cart" }
    projectors: { "read_model": "http://read-model" }
    sagas: { order: { "fulfil_orders": "http://fulfil" } }
"#,
    )
    .unwrap();
    let discovery = Builder::from_config(&config.discovery.env_urls)
        .with_vars([("ANGZARR_AGGREGATE_ORDER", "http://from-env-order")])
        .build()
        .unwrap();
    assert_eq!(
        discovery.aggregate("order").await.unwrap().as_str(),
        "http://from-env-order/"
    );
    assert_eq!(
        discovery.aggregate("cart").await.unwrap().as_str(),
        "http://from-file-cart/"
    );
    assert_eq!(discovery.projectors().await.unwrap()[0].name, "read_model");
    // A saga name with `_`: only the configuration file can say it.
    assert_eq!(
        discovery.sagas("ORDER").await.unwrap()[0].name,
        "fulfil_orders"
    );
}

#[tokio::test]
async fn the_mesh_names_aggregates_and_env_urls_name_the_rest() {
    let components = Builder::new()
        .with_vars([
            (
                "ANGZARR_PROJECTOR_SUMMARY",
                "https://summary.shop.mesh.internal",
            ),
            ("ANGZARR_AGGREGATE_LEGACY", "https://legacy.example.com"),
        ])
        .build()
        .unwrap();
    let config = GcpMeshConfig {
        mesh: "shop".into(),
        ..GcpMeshConfig::default()
    };
    let mesh = MeshDiscovery::from_config(&config)
        .unwrap()
        .with_components(components);
    assert_eq!(
        mesh.aggregate("Order_Fulfillment").await.unwrap().as_str(),
        "https://order-fulfillment-aggregate.shop.mesh.internal/"
    );
    assert_eq!(
        mesh.aggregate("legacy").await.unwrap().as_str(),
        "https://legacy.example.com/",
        "an explicit URL wins over the template"
    );
    assert!(matches!(
        mesh.aggregate("bad domain").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(mesh.projectors().await.unwrap()[0].name, "summary");
    assert!(mesh.sagas("order").await.unwrap().is_empty());

    let custom = MeshDiscovery::new("", "http://{domain}.internal:8080").unwrap();
    assert_eq!(
        custom.aggregate("cart").await.unwrap().as_str(),
        "http://cart.internal:8080/"
    );
}

#[test]
fn mesh_settings_are_checked_and_named() {
    let config = |mesh: &str, template: &str| GcpMeshConfig {
        mesh: mesh.into(),
        url_template: template.into(),
    };
    assert_eq!(
        config_key(MeshDiscovery::from_config(&config(
            "",
            "https://{domain}.{mesh}.mesh.internal"
        ))),
        "discovery.gcp_mesh.mesh"
    );
    assert_eq!(
        config_key(MeshDiscovery::from_config(&config(
            "shop",
            "https://aggregate.{mesh}"
        ))),
        "discovery.gcp_mesh.url_template"
    );
    assert_eq!(
        config_key(MeshDiscovery::from_config(&config(
            "shop",
            "{domain}.{mesh}"
        ))),
        "discovery.gcp_mesh.url_template"
    );
}
