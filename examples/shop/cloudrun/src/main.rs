//! `shop-cloudrun`: the shop example as a Cloud Run service.
//!
//! ```sh
//! ANGZARR_ROLE=all PORT=8080 cargo run -p angzarr-example-shop-cloudrun
//! ```

use angzarr_example_shop::summary::OrderSummaries;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match angzarr_example_shop_cloudrun::handlers(&OrderSummaries::default()) {
        Ok(handlers) => angzarr_cloudrun::run(handlers).await,
        Err(error) => {
            eprintln!("shop-cloudrun: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
