#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine with a Rust toolchain.
# The tests use only what the workspace builds (a real sled store in temporary
# directories, real actor threads, child processes for crash tests), so there
# is nothing else to install yet; services the tests need later are installed
# and started here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
