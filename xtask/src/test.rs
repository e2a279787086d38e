//! `cargo xtask test`: what CI runs. Each step prints its duration; the first
//! failure stops the run.

use std::env;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{project_root, tools};

pub(crate) fn run(lint: bool, cargo_args: &[String]) -> Result<()> {
    let started = Instant::now();
    let path = step("check tools", tools::ensure)?;
    let cargo = |args: &[&str]| {
        let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(project_root())
            .env("PATH", &path)
            .args(args);
        command
    };
    if lint {
        step("cargo fmt --all -- --check", || {
            run_command(cargo(&["fmt", "--all", "--", "--check"]))
        })?;
        step(
            "cargo clippy --workspace --all-targets -- -D warnings",
            || {
                run_command(cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            },
        )?;
    }
    // Plain `cargo test`: one process per test binary, so the tests of a
    // binary share its emulators.
    let mut test = cargo(&["test", "--workspace"]);
    test.args(cargo_args);
    let name = format!("cargo test --workspace {}", cargo_args.join(" "));
    step(name.trim_end(), || run_command(test))?;
    // What the default features leave out: the Lambda functions' Kinesis
    // trigger and Redis store.
    if lint {
        step(
            "cargo clippy -p angzarr-lambda --features kinesis,redis --all-targets -- -D warnings",
            || {
                run_command(cargo(&[
                    "clippy",
                    "-p",
                    "angzarr-lambda",
                    "--features",
                    "kinesis,redis",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            },
        )?;
    }
    // The Kinesis trigger on event documents, then the shop end to end over
    // Kinesis (moto, `cargo lambda watch --features kinesis`).
    step(
        "cargo test -p angzarr-lambda --features kinesis --test triggers --test e2e_kinesis",
        || {
            run_command(cargo(&[
                "test",
                "-p",
                "angzarr-lambda",
                "--features",
                "kinesis",
                "--test",
                "triggers",
                "--test",
                "e2e_kinesis",
            ]))
        },
    )?;
    println!("all steps passed in {:.1?}", started.elapsed());
    Ok(())
}

fn step<T>(name: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let started = Instant::now();
    let result = work();
    let took = started.elapsed();
    match &result {
        Ok(_) => println!("<== {name}: ok in {took:.1?}"),
        Err(_) => println!("<== {name}: FAILED after {took:.1?}"),
    }
    result.with_context(|| format!("step `{name}` failed"))
}

fn run_command(mut command: Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{status}");
    }
    Ok(())
}
