#!/usr/bin/env bash
# Makes sure Mosquitto (broker and clients, Debian's packages) is installed,
# for the MQTT tests and `twin bench loadgen`; installs it when missing and
# reuses it when present. The tests start their own brokers on free
# loopback ports; the system service the package may start is not used.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    if command -v mosquitto_pub >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "installing mosquitto and mosquitto-clients (Debian packages)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q mosquitto mosquitto-clients >/dev/null ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q mosquitto mosquitto-clients >/dev/null; }
command -v mosquitto_pub >/dev/null
