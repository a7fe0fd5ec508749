#!/usr/bin/env bash
# `twin bench loadgen` with what it needs: Mosquitto (scripts/mosquitto.sh)
# and paho-mqtt from PyPI in target/py-venv for the Python baseline.
#   scripts/bench-loadgen.sh [--json] [bench options…]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/mosquitto.sh"
venv="$root/target/py-venv"
if ! "$venv/bin/python" -c "import paho.mqtt" 2>/dev/null; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "paho-mqtt==2.1.0"
fi
cd "$root"
cargo build --release --locked --quiet
exec target/release/twin bench loadgen --python "$venv/bin/python" "$@"
