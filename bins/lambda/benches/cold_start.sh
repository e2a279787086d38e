#!/usr/bin/env sh
# Cold start and size of each Lambda function beside a lambda_runtime hello world.
# Usage: bins/lambda/benches/cold_start.sh [RUNS [DIR ...]]
# Each DIR (say, a copy of target/release from before a change: the four role
# binaries and examples/hello_world) is measured beside this build, starts
# alternating run by run.
set -eu
cd "$(dirname "$0")/../../.."
runs="${1:-30}"
[ $# -gt 0 ] && shift
cargo build --release -p angzarr-lambda --bins --example hello_world --example cold_start
target/release/examples/cold_start "$runs" target/release "$@"
