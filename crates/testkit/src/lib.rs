//! Test support shared by every Angzarr backend.
//!
//! * [`suites`]: the conformance suites, one `pub async fn` per behaviour, each
//!   taking the trait object under test. A backend's integration test starts
//!   its emulator and calls every suite.
//! * [`emulators`]: starts the real service emulators (moto, the Pub/Sub and
//!   Bigtable emulators, Redis) on free loopback ports, waits until they
//!   answer, hands out unique resource names, and stops them when the test
//!   binary ends. A missing emulator is a failure with an install hint.
//! * [`errors`]: one error of every variant, for the tests that carry errors
//!   across a transport and back.
//! * [`shop_python`]: the shop's Python services on loopback ports.
//! * [`tls`]: a throw-away private CA and a server certificate for
//!   `127.0.0.1`, for tests of TLS set-ups.
//!
//! This crate is test support: a failed expectation panics, which is how a
//! test reports it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod emulators;
pub mod errors;
pub mod faults;
pub mod published_python;
pub mod shop_python;
pub mod suites;
pub mod tls;
