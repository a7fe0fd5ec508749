#!/usr/bin/env bash
# Runs the Mesa version of the factory model (scripts/mesa_factory.py) and
# prints its JSON figures. Mesa comes from PyPI into a virtual environment
# kept under target/ (created on first use).
#
#   scripts/bench-mesa.sh --entities 1000000 --ticks 3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${TWIN_MESA_VENV:-$here/../target/mesa-venv}"
mesa_version="3.3.1"
if ! "$venv/bin/python" -c "import mesa, sys; sys.exit(mesa.__version__ != '$mesa_version')" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mesa==$mesa_version" >&2
fi
exec "$venv/bin/python" "$here/mesa_factory.py" "$@"
