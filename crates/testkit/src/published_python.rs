//! The published Python client library (`angzarr-client` from PyPI, at the
//! version `examples/ledger-python/requirements.txt` pins) in a virtual
//! environment of its own, `target/published-python`: it pins
//! `protobuf<6`, which the shop's code generator (`grpcio-tools`) does not
//! accept, so the two cannot share one interpreter. `cargo xtask test`
//! makes it; [`python`] finds it.

use std::path::{Path, PathBuf};

/// How to make the environment.
pub const HINT: &str = "the compatibility suite needs the published angzarr-client in \
                        target/published-python: `python3 -m venv target/published-python && \
                        target/published-python/bin/python -m pip install -r \
                        examples/ledger-python/requirements.txt` (cargo xtask test makes it)";

/// The repository's root (this crate is `crates/testkit`).
fn root() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit
        .parent()
        .and_then(Path::parent)
        .unwrap_or(testkit)
        .to_path_buf()
}

/// The environment's directory, `target/published-python`.
pub fn venv() -> PathBuf {
    root().join("target/published-python")
}

/// The requirements it is made from.
pub fn requirements() -> PathBuf {
    root().join("examples/ledger-python/requirements.txt")
}

/// The environment's interpreter, if it has been made.
pub fn python() -> Option<PathBuf> {
    let python = venv().join("bin/python");
    python.is_file().then_some(python)
}

/// The directory to put on `PYTHONPATH` for `python -m ledger`.
pub fn ledger_path() -> PathBuf {
    root().join("examples/ledger-python")
}
