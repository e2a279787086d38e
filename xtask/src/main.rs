//! Project tasks, run with `cargo xtask <task>` (an alias in
//! `.cargo/config.toml`):
//!
//! * `cargo xtask test [--no-lint] [-- <cargo test args>]`: installs or checks
//!   the emulators, then runs `cargo fmt --check`, `cargo clippy` and
//!   `cargo test --workspace`. This is what CI runs (`.ci/run`).
//! * `cargo xtask emulators`: starts every emulator on loopback and prints the
//!   environment variables that point clients at them, until Ctrl-C.

mod demo;
mod emulators;
mod flags;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let task = match flags::parse(std::env::args().skip(1)) {
        Ok(task) => task,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", flags::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match task {
        flags::Task::Help => {
            println!("{}", flags::USAGE);
            Ok(())
        }
        flags::Task::Test { lint, cargo_args } => test::run(lint, &cargo_args),
        flags::Task::Demo { target } => demo::run(target),
        flags::Task::Emulators => emulators::run(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives in `<root>/xtask`).
fn project_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::project_root;

    #[test]
    fn ci_runs_the_full_xtask_test() {
        let script = project_root().join(".ci/run");
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{text}");
        assert!(
            text.lines().any(|line| line.trim() == "set -euo pipefail"),
            "{text}"
        );
        // Exactly `cargo xtask test`: no `--no-lint`, no filter.
        assert!(
            text.lines().any(|line| line.trim() == "cargo xtask test"),
            "{text}"
        );
        assert!(!text.contains("--no-lint"), "{text}");
        let mode = script.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, ".ci/run is not executable");
    }

    #[test]
    fn cargo_xtask_alias_exists() {
        let config = std::fs::read_to_string(project_root().join(".cargo/config.toml")).unwrap();
        assert!(
            config.contains(r#"xtask = "run --quiet --package xtask --""#),
            "{config}"
        );
    }
}
