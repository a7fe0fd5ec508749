#!/usr/bin/env bash
# Screenshots of the viewer, shown in README.md: on the city scenario
# docs/screenshots/map.png (the map with the overview panel) and
# docs/screenshots/inspector.png (an air-quality station in the inspector);
# on the cocoa farm docs/screenshots/farm.png (parcels by NDVI and the
# disease zone the twin opened, in the inspector), after 96 simulated days
# run as fast as possible into a store the twin then serves; and likewise
# docs/screenshots/city-forecast.png (a traffic loop's flow with the twin's
# forecast as a band ahead), after four city days; and
# docs/screenshots/factory.png (a pump's remaining useful life with its
# band in the inspector, the work orders and the technicians' timeline),
# after 30 factory days.
#
# Installs what it needs from Debian's packages when missing (Xvfb,
# ImageMagick, Mesa's software OpenGL), runs `twin run` on the city scenario
# and the viewer in a virtual X display, and captures the screen.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v import >/dev/null || missing+=(imagemagick)
dpkg -s libgl1-mesa-dri >/dev/null 2>&1 || missing+=(libgl1-mesa-dri)
ldconfig -p | grep -q libEGL.so.1 || missing+=(libegl1)
ldconfig -p | grep -q libxkbcommon-x11.so.0 || missing+=(libxkbcommon-x11-0)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null
fi

cargo build --release -p twin -p twin-viewer
bin=target/release
out=docs/screenshots
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Waits until the twin logging to $1 serves gRPC, or shows its log and fails.
wait_listening() {
    for _ in $(seq 1 120); do
        grep -q "gRPC listening" "$1" && return 0
        sleep 0.5
    done
    cat "$1" >&2
    exit 1
}

display=:${SCREENSHOT_DISPLAY:-91}
size=1600x1000
Xvfb "$display" -screen 0 ${size}x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)

port=${SCREENSHOT_PORT:-50091}
"$bin/twin" run --scenario data/scenarios/city.toml --scale 4 --ephemeral \
    --listen "127.0.0.1:$port" --token screenshot --clock x600 --forever \
    >"$work/twin.log" 2>&1 &
pids+=($!)
wait_listening "$work/twin.log"
# Let a few simulated hours of history build up.
sleep 20

# Captures the viewer started with the given flags after it has settled.
shot() {
    local name=$1; shift
    # A fresh settings directory: a screenshot does not depend on who ran it last.
    XDG_DATA_HOME="$work/xdg-$name" DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1 \
        "$bin/twin-viewer" --connect "http://127.0.0.1:${shot_port:-$port}" --token screenshot \
        --size "$size" "$@" >"$work/viewer-$name.log" 2>&1 &
    local viewer=$!
    sleep 15
    if ! kill -0 "$viewer" 2>/dev/null; then
        cat "$work/viewer-$name.log" >&2
        exit 1
    fi
    DISPLAY="$display" import -window root "$out/$name.png"
    kill "$viewer"
    wait "$viewer" 2>/dev/null || true
    echo "wrote $out/$name.png"
}

shot map --panel kpi
shot inspector --select sensor/aq-2-0 --panel inspector

# The farm: on seed 3 swollen shoot spreads over the summer; by day 96 the
# twin keeps two zones over it, and the irrigation planner waters parcels.
"$bin/twin" run --scenario farm-cocoa --seed 3 --for 96d --clock max \
    --store "$work/farm" >"$work/farm-run.log" 2>&1
farm_port=$((port + 1))
"$bin/twin" run --scenario farm-cocoa --seed 3 --store "$work/farm" \
    --listen "127.0.0.1:$farm_port" --token screenshot --clock x600 --forever \
    >"$work/farm.log" 2>&1 &
pids+=($!)
wait_listening "$work/farm.log"
shot_port=$farm_port shot farm --select zone/disease-0001 --panel inspector

# The city's forecasts start after two days; four give them history.
"$bin/twin" run --scenario city --for 4d --clock max \
    --store "$work/city" >"$work/city-run.log" 2>&1
city_port=$((port + 2))
"$bin/twin" run --scenario city --store "$work/city" \
    --listen "127.0.0.1:$city_port" --token screenshot --clock x60 --forever \
    >"$work/city.log" 2>&1 &
pids+=($!)
wait_listening "$work/city.log"
shot_port=$city_port shot city-forecast --select sensor/loop-1-1 --panel inspector

# The factory: a month of wear, RUL estimates and work orders.
"$bin/twin" run --scenario factory --for 30d --clock max \
    --store "$work/factory" >"$work/factory-run.log" 2>&1
factory_port=$((port + 3))
"$bin/twin" run --scenario factory --store "$work/factory" \
    --listen "127.0.0.1:$factory_port" --token screenshot --clock x60 --forever \
    >"$work/factory.log" 2>&1 &
pids+=($!)
wait_listening "$work/factory.log"
shot_port=$factory_port shot factory --select machine/pump-0003 --panel work-orders
