#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine with a Rust toolchain and
# Python 3: the Rust tests (a real sled store in temporary directories, real
# actor threads, a real gRPC server and client on loopback, child processes
# for crash tests), then the Python client against a real `twin run`
# (grpcio installed from PyPI into target/py-venv by scripts/test-python.sh),
# and real Mosquitto brokers on loopback (installed by scripts/mosquitto.sh).
# Ends with one line totalling every test's results.
set -euo pipefail
cd "$(dirname "$0")/.."
# The MQTT tests talk to a real Mosquitto.
scripts/mosquitto.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# The Python tests print unittest's summary: "Ran N tests", then "OK" or
# "FAILED (failures=F, errors=E)".
py=0
scripts/test-python.sh target/debug/twin 2>&1 | tee -a "$log" || py=$?
awk -v py="$py" '
    /^test result:/ { p += $4; f += $6 }
    /^Ran [0-9]+ tests? in/ { ran = $2 }
    /^FAILED \(/ { n = split($0, parts, /[=,)]/); for (i = 2; i <= n; i += 2) pf += parts[i] }
    END { if (py != 0 && pf == 0) pf = 1; printf "%d passed, %d failed\n", p + ran - pf, f + pf }
' "$log"
[ "$status" -eq 0 ] && [ "$py" -eq 0 ]
