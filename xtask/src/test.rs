//! `cargo xtask test`: what CI runs. Every step runs, even after one fails,
//! so that a failure in one crate does not hide the others; each step prints
//! its duration, and the run ends with one line counting the tests of every
//! step (`N passed, N failed`). Any failure makes the run fail.

use std::env;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{project_root, tools};

pub(crate) fn run(lint: bool, cargo_args: &[String]) -> Result<()> {
    let started = Instant::now();
    let path = {
        println!("==> check tools");
        tools::ensure().context("step `check tools` failed")?
    };
    let mut steps = Vec::new();
    if lint {
        steps.push(Step::new(["fmt", "--all", "--", "--check"]));
        steps.push(Step::new([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]));
    }
    // Plain `cargo test`: one process per test binary, so the tests of a
    // binary share its emulators. `--no-fail-fast` runs every binary.
    let mut workspace = Step::new(["test", "--workspace", "--no-fail-fast"]);
    workspace.args.extend(cargo_args.iter().cloned());
    steps.push(workspace);
    // What the default features leave out: the Lambda functions' Kinesis
    // trigger and Redis store.
    if lint {
        steps.push(Step::new([
            "clippy",
            "-p",
            "angzarr-lambda",
            "-p",
            "angzarr-example-shop-lambda",
            "--features",
            "angzarr-lambda/kinesis,angzarr-lambda/redis,angzarr-example-shop-lambda/kinesis,angzarr-example-shop-lambda/redis",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]));
    }
    // The Kinesis trigger on event documents, then the shop end to end over
    // Kinesis (moto, `cargo lambda watch --features kinesis`).
    steps.push(Step::new([
        "test",
        "-p",
        "angzarr-lambda",
        "-p",
        "angzarr-example-shop-lambda",
        "--features",
        "angzarr-lambda/kinesis,angzarr-example-shop-lambda/kinesis",
        "--no-fail-fast",
        "--test",
        "triggers",
        "--test",
        "e2e_kinesis",
    ]));

    let outcomes: Vec<Outcome> = steps.iter().map(|step| step.run(&path)).collect();
    let summary = Summary::of(&outcomes);
    println!("\n==> summary ({:.1?})", started.elapsed());
    for outcome in &outcomes {
        println!("  {outcome}");
    }
    println!("{summary}");
    if summary.is_success() {
        Ok(())
    } else {
        bail!("{summary}")
    }
}

/// One cargo invocation of the run.
struct Step {
    args: Vec<String>,
}

impl Step {
    fn new<const N: usize>(args: [&str; N]) -> Self {
        Self {
            args: args.map(String::from).to_vec(),
        }
    }

    fn name(&self) -> String {
        format!("cargo {}", self.args.join(" "))
    }

    /// Runs the step, echoing its output while counting the test results
    /// that libtest prints on standard output.
    fn run(&self, path: &OsString) -> Outcome {
        let name = self.name();
        println!("==> {name}");
        let started = Instant::now();
        let mut counts = Counts::default();
        let result = self.execute(path, &mut counts);
        let outcome = Outcome {
            name,
            took: started.elapsed(),
            error: result.err().map(|e| format!("{e:#}")),
            counts,
        };
        println!("<== {outcome}");
        outcome
    }

    fn execute(&self, path: &OsString, counts: &mut Counts) -> Result<()> {
        let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(project_root())
            .env("PATH", path)
            .args(&self.args)
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {command:?}"))?;
        if let Some(stdout) = child.stdout.take() {
            let mut echo = io::stdout().lock();
            for line in BufReader::new(stdout).lines() {
                let line = line.context("reading the step's output")?;
                counts.add_line(&line);
                // A closed terminal must not stop the tests.
                let _ = writeln!(echo, "{line}");
            }
        }
        let status = child.wait().context("waiting for cargo")?;
        if !status.success() {
            bail!("{status}");
        }
        Ok(())
    }
}

/// Tests counted from libtest's `test result:` lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Counts {
    /// Adds the counts of a line such as
    /// `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; ...`;
    /// any other line adds nothing.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        let Some((_, figures)) = rest.split_once(". ") else {
            return;
        };
        for figure in figures.split(';') {
            let mut words = figure.split_whitespace();
            let (Some(number), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

/// How one step ended.
struct Outcome {
    name: String,
    took: Duration,
    /// Why the step failed; `None` when it succeeded.
    error: Option<String>,
    counts: Counts,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Counts {
            passed,
            failed,
            ignored,
        } = self.counts;
        match &self.error {
            None => write!(f, "ok      {:>7.1?}  {}", self.took, self.name)?,
            Some(error) => write!(f, "FAILED  {:>7.1?}  {} ({error})", self.took, self.name)?,
        }
        if passed + failed + ignored > 0 {
            write!(f, ": {passed} passed, {failed} failed")?;
            if ignored > 0 {
                write!(f, ", {ignored} ignored")?;
            }
        }
        Ok(())
    }
}

/// The whole run: tests over every step, and the steps that failed.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    tests: Counts,
    steps: usize,
    failed_steps: Vec<String>,
}

impl Summary {
    fn of(outcomes: &[Outcome]) -> Self {
        let mut tests = Counts::default();
        for outcome in outcomes {
            tests.passed += outcome.counts.passed;
            tests.failed += outcome.counts.failed;
            tests.ignored += outcome.counts.ignored;
        }
        Self {
            tests,
            steps: outcomes.len(),
            failed_steps: outcomes
                .iter()
                .filter(|o| o.error.is_some())
                .map(|o| o.name.clone())
                .collect(),
        }
    }

    /// No failed test, no failed step, and no ignored test (an ignored test
    /// would be counted as neither, so it is reported as a failure).
    fn is_success(&self) -> bool {
        self.tests.failed == 0 && self.tests.ignored == 0 && self.failed_steps.is_empty()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed",
            self.tests.passed, self.tests.failed
        )?;
        if self.tests.ignored > 0 {
            write!(f, ", {} ignored (not allowed)", self.tests.ignored)?;
        }
        write!(
            f,
            "; {} of {} steps failed",
            self.failed_steps.len(),
            self.steps
        )?;
        if !self.failed_steps.is_empty() {
            write!(f, ": {}", self.failed_steps.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_libtest_result_lines() {
        let mut counts = Counts::default();
        for line in [
            "running 3 tests",
            "test a ... ok",
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
            "   Doc-tests angzarr_core",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: garbage",
        ] {
            counts.add_line(line);
        }
        assert_eq!(
            counts,
            Counts {
                passed: 15,
                failed: 2,
                ignored: 1
            }
        );
    }

    fn outcome(name: &str, error: Option<&str>, passed: u64, failed: u64) -> Outcome {
        Outcome {
            name: name.to_owned(),
            took: Duration::from_secs(1),
            error: error.map(str::to_owned),
            counts: Counts {
                passed,
                failed,
                ignored: 0,
            },
        }
    }

    #[test]
    fn the_summary_counts_every_step_and_fails_on_any_failure() {
        let all_ok = Summary::of(&[
            outcome("cargo clippy", None, 0, 0),
            outcome("cargo test --workspace", None, 430, 0),
            outcome("cargo test -p angzarr-lambda", None, 6, 0),
        ]);
        assert_eq!(
            all_ok.to_string(),
            "436 passed, 0 failed; 0 of 3 steps failed"
        );
        assert!(all_ok.is_success());

        let one_test_failed = Summary::of(&[
            outcome("cargo test --workspace", Some("exit status: 101"), 429, 1),
            outcome("cargo test -p angzarr-lambda", None, 6, 0),
        ]);
        assert_eq!(
            one_test_failed.to_string(),
            "435 passed, 1 failed; 1 of 2 steps failed: cargo test --workspace"
        );
        assert!(!one_test_failed.is_success());

        // A lint failure fails the run though every test passed.
        let lint_failed = Summary::of(&[
            outcome("cargo fmt", Some("exit status: 1"), 0, 0),
            outcome("cargo test --workspace", None, 430, 0),
        ]);
        assert!(!lint_failed.is_success());
    }
}
