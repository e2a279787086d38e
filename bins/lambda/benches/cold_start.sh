#!/usr/bin/env sh
# Cold start and size of each Lambda function beside a lambda_runtime hello world.
# Usage: bins/lambda/benches/cold_start.sh [RUNS]
set -eu
cd "$(dirname "$0")/../../.."
cargo build --release -p angzarr-lambda --bins --example hello_world --example cold_start
target/release/examples/cold_start "${1:-30}" target/release
