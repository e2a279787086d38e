//! The `gateway` function, hosting the shop example.
//!
//! Locally: `cargo lambda watch` in `bins/lambda`, then invoke `gateway`.

#[tokio::main]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::roles::run_gateway(angzarr_lambda::shop::logic).await
}
