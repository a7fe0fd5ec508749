#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine with a Rust toolchain.
# The tests use only what the workspace builds (a real sled store in temporary
# directories, real actor threads, child processes for crash tests), so there
# is nothing else to install yet; services the tests need later are installed
# and started here. Ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
