//! `angzarr`: the local all-in-one runtime on the embedded memory backends.
//!
//! ```text
//! cargo run -p angzarr-cli -- demo              # the shop flow, step by step
//! cargo run -p angzarr-cli -- dev [--port N]    # the shop over gRPC on localhost
//! cargo run -p angzarr-cli -- config            # the effective configuration
//! ```

mod demo;
mod dev;

use std::process::ExitCode;

const USAGE: &str = "\
usage: angzarr <command>

commands:
  demo              run the shop flow (cart, order, payment, saga, shipment, read model) on the memory backends
  dev [--port N]    serve the shop over gRPC on 127.0.0.1 (default port 1310; 0 picks a free one) until Ctrl-C
  config            print the effective configuration (defaults < $ANGZARR_CONFIG < ANGZARR_* env)
";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["demo"] => demo::run().await,
        ["dev"] => dev::run(1310).await,
        ["dev", "--port", port] => match port.parse() {
            Ok(port) => dev::run(port).await,
            Err(_) => usage_error(&format!("`{port}` is not a port")),
        },
        ["config"] => print_config(),
        ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            Ok(())
        }
        [] => usage_error("no command given"),
        [other, ..] => usage_error(&format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<UsageError>() => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A command line that does not parse (exit code 2, usage printed).
#[derive(Debug)]
struct UsageError;

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("usage error")
    }
}

impl std::error::Error for UsageError {}

fn usage_error(message: &str) -> anyhow::Result<()> {
    eprint!("{message}\n{USAGE}");
    Err(UsageError.into())
}

fn print_config() -> anyhow::Result<()> {
    let config = angzarr_core::config::Config::load()?;
    println!("{config:#?}");
    Ok(())
}
