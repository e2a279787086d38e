//! The middleware around the routes: body limit (with a JSON 413), CORS,
//! and structured access logs.

use std::time::Duration;

use angzarr_core::{Error, Result};
use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, StatusCode, header};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::{ApiError, JSON};

/// The target of the one access-log event per request.
pub(crate) const ACCESS_TARGET: &str = "angzarr_gateway::access";

/// Wraps `routes` in (outermost first) access logging, CORS, the JSON 413
/// rewrite and the body limit.
pub(crate) fn wrap(routes: Router, max_body_bytes: usize, cors: Option<CorsLayer>) -> Router {
    let routes = routes
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(axum::middleware::map_response(
            move |response: Response| async move { json_too_large(response, max_body_bytes) },
        ));
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request<Body>| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            })
            .on_request(())
            .on_response(|response: &Response, latency: Duration, _: &Span| {
                let status = response.status().as_u16();
                let latency_ms = latency.as_secs_f64() * 1000.0;
                if response.status().is_server_error() {
                    tracing::error!(target: ACCESS_TARGET, status, latency_ms, "request");
                } else {
                    tracing::info!(target: ACCESS_TARGET, status, latency_ms, "request");
                }
            })
            .on_failure(()),
    )
}

/// The body limit layer answers a declared-too-large body itself, in plain
/// text; answer in JSON like every other error.
fn json_too_large(response: Response, limit: usize) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(JSON.as_bytes()));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::too_large(limit).into_response();
    }
    response
}

/// A CORS layer for `origins`, or none when the list is empty.
pub(crate) fn cors(origins: &[String]) -> Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o).map_err(|_| {
                    Error::config(
                        "gateway.cors_allowed_origins",
                        format!("`{o}` is not a valid origin"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([http::Method::GET, http::Method::POST])
            .allow_headers(Any)
            .expose_headers([http::HeaderName::from_static(crate::events::NEXT_HEADER)]),
    ))
}
