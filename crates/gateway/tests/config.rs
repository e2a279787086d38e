//! CORS, and loading the gateway's settings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use angzarr_core::config::Config;
use angzarr_example_shop::Shop;
use angzarr_gateway::GatewayConfig;
use axum::body::Body;
use common::*;
use figment::Figment;
use figment::providers::{Format, Yaml};
use http::{Request, StatusCode, header};

#[tokio::test]
async fn cors_is_off_by_default_and_on_when_configured() {
    let shop = Shop::in_memory();
    let preflight = || {
        Request::options("/v1/commands")
            .header(header::ORIGIN, "https://shop.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };

    let plain = gateway(&shop);
    let response = send(&plain, preflight()).await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let app = builder(&shop)
        .cors_allowed_origins(["https://shop.example"])
        .build()
        .unwrap();
    let response = send(&app, preflight()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    // Pollers may read `next` from the header.
    let mut get_request = get(&format!("/v1/events/cart/{}", uuid::Uuid::new_v4()), "*/*");
    get_request
        .headers_mut()
        .insert(header::ORIGIN, "https://shop.example".parse().unwrap());
    let response = send(&app, get_request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let exposed = response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("x-angzarr-next"), "{exposed}");

    // Another origin gets no allowance.
    let mut other = preflight();
    other
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let response = send(&app, other).await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    // A bad origin is a configuration error naming the key.
    let error = builder(&shop)
        .cors_allowed_origins(["bad\norigin"])
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("gateway.cors_allowed_origins"),
        "{error}"
    );
}

#[test]
fn settings_load_from_the_gateway_section() {
    assert_eq!(
        GatewayConfig::from_figment(&Figment::new()).unwrap(),
        GatewayConfig::default()
    );
    let yaml = "gateway:\n  max_body_bytes: 4096\n  events_page_limit: 50\n  domains: [cart, order]\n  cors_allowed_origins: ['*']\nstorage:\n  type: memory\n";
    let config = GatewayConfig::from_figment(&Figment::new().merge(Yaml::string(yaml))).unwrap();
    assert_eq!(config.max_body_bytes, 4096);
    assert_eq!(config.events_page_limit, 50);
    assert_eq!(config.domains, ["cart", "order"]);
    assert_eq!(config.cors_allowed_origins, ["*"]);
    // The core model still reads the same file.
    Config::from_yaml(yaml).unwrap();

    // A typo or a wrong kind names the key.
    let error = GatewayConfig::from_figment(
        &Figment::new().merge(Yaml::string("gateway:\n  max_body_byte: 1\n")),
    )
    .unwrap_err();
    assert!(error.to_string().contains("max_body_byte"), "{error}");
    let error = GatewayConfig::from_figment(
        &Figment::new().merge(Yaml::string("gateway:\n  max_body_bytes: lots\n")),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("gateway.max_body_bytes"),
        "{error}"
    );
}

#[test]
fn settings_load_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ANGZARR_GATEWAY__MAX_BODY_BYTES", "2048");
        jail.set_env("ANGZARR_GATEWAY__DOMAINS", "[cart,order]");
        let config = GatewayConfig::load().unwrap();
        assert_eq!(config.max_body_bytes, 2048);
        assert_eq!(config.domains, ["cart", "order"]);
        Ok(())
    });
}

#[test]
fn zero_limits_are_refused() {
    let shop = Shop::in_memory();
    let error = builder(&shop).max_body_bytes(0).build().unwrap_err();
    assert!(
        error.to_string().contains("gateway.max_body_bytes"),
        "{error}"
    );
    let error = builder(&shop).events_page_limit(0).build().unwrap_err();
    assert!(
        error.to_string().contains("gateway.events_page_limit"),
        "{error}"
    );
}
