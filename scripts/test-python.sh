#!/usr/bin/env bash
# Runs the Python client's tests (examples/python/test_client.py) against a
# real `twin run`. Installs grpcio from PyPI into a virtual environment under
# target/ and generates the client code from the proto files, both at test time.
#   scripts/test-python.sh [path/to/twin]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
twin="$(realpath "${1:-$root/target/debug/twin}")"
venv="$root/target/py-venv"
if ! "$venv/bin/python" -c "import grpc_tools, grpc_reflection" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/examples/python/requirements.txt"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/examples/python/"*.py "$work/"
"$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" --python_out="$work" --grpc_python_out="$work" \
    "$root/proto/twin/v1/types.proto" "$root/proto/twin/v1/twin.proto"
cd "$work"
TWIN_BIN="$twin" "$venv/bin/python" -m unittest -v test_client
