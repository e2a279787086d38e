//! `cargo xtask demo --target local|aws|gcp`: the shop flow, printed step by
//! step. `local` is the `angzarr demo` command on the memory backends; `aws`
//! and `gcp` run the function binaries' demo example, which starts the
//! emulators, creates the tables, topics and queues, runs the functions as
//! the platform would and drives the flow through the gateway.

use std::env;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::flags::Target;
use crate::{project_root, tools};

pub(crate) fn run(target: Target) -> Result<()> {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    match target {
        Target::Local => command.args(["run", "--quiet", "-p", "angzarr-cli", "--", "demo"]),
        Target::Aws => {
            command.env("PATH", tools::ensure()?);
            command.args([
                "run",
                "--quiet",
                "-p",
                "angzarr-example-shop-lambda",
                "--example",
                "lambda_demo",
            ])
        }
        Target::Gcp => {
            command.env("PATH", tools::ensure()?);
            command.args([
                "run",
                "--quiet",
                "-p",
                "angzarr-example-shop-cloudrun",
                "--example",
                "cloudrun_demo",
            ])
        }
    };
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("the {target:?} demo failed: {status}");
    }
    Ok(())
}
