//! The `saga-trigger` function, hosting the shop example.
//!
//! Locally: `cargo lambda watch` in `bins/lambda`, then invoke `saga-trigger`.

#[tokio::main]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::roles::run_saga_trigger(angzarr_lambda::shop::logic).await
}
