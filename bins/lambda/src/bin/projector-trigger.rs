//! The `projector-trigger` function, hosting the shop example.
//!
//! Locally: `cargo lambda watch` in `bins/lambda`, then invoke `projector-trigger`.

#[tokio::main]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::roles::run_projector_trigger(angzarr_lambda::shop::logic).await
}
