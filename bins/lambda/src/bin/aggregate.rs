//! The `aggregate` function, hosting the shop example.
//!
//! Locally: `cargo lambda watch` in `bins/lambda`, then invoke `aggregate`.

#[tokio::main]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::roles::run_aggregate(angzarr_lambda::shop::logic).await
}
