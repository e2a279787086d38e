//! The shop's `projector-trigger` function (the role comes from the function's name, or
//! `ANGZARR_ROLE`). Locally: `cargo lambda watch` in `examples/shop/lambda`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::run_with(angzarr_example_shop_lambda::application).await
}
