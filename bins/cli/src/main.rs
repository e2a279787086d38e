//! `angzarr`: the local all-in-one runtime on the embedded memory backends.
//!
//! ```text
//! cargo run -p angzarr-cli -- demo      # append, conflict, load, publish, project
//! cargo run -p angzarr-cli -- config    # print the effective configuration
//! ```

mod demo;

use std::process::ExitCode;

const USAGE: &str = "\
usage: angzarr <command>

commands:
  demo     run an aggregate's events through the embedded store, bus and firing guard
  config   print the effective configuration (defaults < $ANGZARR_CONFIG < ANGZARR_* env)
";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let result = match command.as_deref() {
        Some("demo") => demo::run().await,
        Some("config") => print_config(),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!(
                "{}{USAGE}",
                other.map_or(String::new(), |c| format!("unknown command `{c}`\n"))
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_config() -> anyhow::Result<()> {
    let config = angzarr_core::config::Config::load()?;
    println!("{config:#?}");
    Ok(())
}
