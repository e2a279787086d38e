//! The stock `aggregate` function: hosts what the configuration's `business`
//! section names. Every stock binary is the same program (the role comes from
//! `ANGZARR_ROLE` or the function's name); one per role so that `cargo
//! lambda watch` and a deployment package name each function's binary.
//! A function gets one event at a time, so one thread serves it: no worker
//! threads to start before the first poll.

#[tokio::main(flavor = "current_thread")]
async fn main() -> angzarr_lambda::roles::RunResult {
    angzarr_lambda::run(angzarr_host::Application::new()).await
}
