//! Every error variant crosses HTTP JSON and a gRPC status (as real headers)
//! and comes back the same to every caller: variant, fields, message,
//! retriability and code.
//!
//! Run with `cargo test -p angzarr-testkit --test error_wire`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use angzarr_core::error::wire;
use angzarr_testkit::errors::{every_variant, observed};

#[test]
fn every_variant_round_trips_through_http_json() {
    for error in every_variant() {
        let body = wire::http_body(&error);
        let back = wire::error_from_http("aggregate", error.http_status(), body.as_bytes());
        assert_eq!(observed(&back), observed(&error), "{body}");
        assert_eq!(back.http_status(), error.http_status());
    }
}

#[test]
fn every_variant_round_trips_through_a_grpc_status() {
    for error in every_variant() {
        let status = wire::grpc_status(&error);
        assert_eq!(status.code(), error.code().grpc_code());
        assert_eq!(status.message(), error.to_string());
        // Over the wire a status travels as headers (trailers).
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        let received = tonic::Status::from_header_map(&headers).unwrap();
        let back = wire::error_from_status("aggregate", received);
        assert_eq!(observed(&back), observed(&error));
    }
}
