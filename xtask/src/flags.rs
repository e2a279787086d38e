//! Command-line parsing, by hand: there are two tasks and one flag.

use anyhow::{Result, bail};

pub(crate) const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test [--no-lint] [-- <cargo test args>]
        install/check the emulators, then cargo fmt --check, cargo clippy
        (skipped with --no-lint) and cargo test --workspace
  emulators
        start all emulators on 127.0.0.1 and print their environment
        variables; stop with Ctrl-C
  help  this text";

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Task {
    Test { lint: bool, cargo_args: Vec<String> },
    Emulators,
    Help,
}

pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Task> {
    let mut args = args.into_iter();
    let task = match args.next().as_deref() {
        None | Some("help" | "-h" | "--help") => return Ok(Task::Help),
        Some("test") => {
            let mut lint = true;
            let mut cargo_args = Vec::new();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--no-lint" => lint = false,
                    "--" => cargo_args.extend(args.by_ref()),
                    other => bail!("unknown flag for `test`: {other}"),
                }
            }
            Task::Test { lint, cargo_args }
        }
        Some("emulators") => Task::Emulators,
        Some(other) => bail!("unknown task: {other}"),
    };
    if let Some(extra) = args.next() {
        bail!("unexpected argument: {extra}");
    }
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Task> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_tasks_and_flags() {
        assert_eq!(parse_str("").unwrap(), Task::Help);
        assert_eq!(parse_str("emulators").unwrap(), Task::Emulators);
        assert_eq!(
            parse_str("test").unwrap(),
            Task::Test {
                lint: true,
                cargo_args: vec![]
            }
        );
        assert_eq!(
            parse_str("test --no-lint -- -p angzarr-core -- --nocapture").unwrap(),
            Task::Test {
                lint: false,
                cargo_args: ["-p", "angzarr-core", "--", "--nocapture"]
                    .map(String::from)
                    .to_vec(),
            }
        );
    }

    #[test]
    fn rejects_unknown_input() {
        assert!(parse_str("deploy").is_err());
        assert!(parse_str("test --fast").is_err());
        assert!(parse_str("emulators now").is_err());
    }
}
