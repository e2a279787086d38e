//! Command-line parsing, by hand: there are three tasks and two flags.

use anyhow::{Result, bail};

pub(crate) const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test [--no-lint] [-- <cargo test args>]
        install/check the emulators, then cargo fmt --check, cargo clippy
        (skipped with --no-lint) and cargo test --workspace
  demo [--target local|aws|gcp]
        run the shop flow: on the embedded backends (local, the default),
        as Lambda functions on moto (aws) or as Cloud Run services on the
        Google emulators (gcp), printing each step
  emulators
        start all emulators on 127.0.0.1 and print their environment
        variables; stop with Ctrl-C
  help  this text";

/// Where `cargo xtask demo` runs the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The `angzarr` CLI on the memory backends.
    Local,
    /// Lambda functions on moto.
    Aws,
    /// Cloud Run services on the Pub/Sub and Bigtable emulators.
    Gcp,
}

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Task {
    Test { lint: bool, cargo_args: Vec<String> },
    Demo { target: Target },
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
        Some("demo") => {
            let target = match (args.next().as_deref(), args.next().as_deref()) {
                (None, _) => Target::Local,
                (Some("--target"), Some("local")) => Target::Local,
                (Some("--target"), Some("aws")) => Target::Aws,
                (Some("--target"), Some("gcp")) => Target::Gcp,
                (Some("--target"), Some(other)) => {
                    bail!("unknown demo target: {other} (local, aws or gcp)")
                }
                (Some("--target"), None) => bail!("--target needs a value: local, aws or gcp"),
                (Some(other), _) => bail!("unknown flag for `demo`: {other}"),
            };
            Task::Demo { target }
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
        assert_eq!(
            parse_str("demo").unwrap(),
            Task::Demo {
                target: Target::Local
            }
        );
        assert_eq!(
            parse_str("demo --target gcp").unwrap(),
            Task::Demo {
                target: Target::Gcp
            }
        );
        assert!(parse_str("demo --target azure").is_err());
        assert!(parse_str("demo --target").is_err());
        assert!(parse_str("emulators now").is_err());
    }
}
