"""Publishes messages with paho-mqtt as a plain Python generator would:
one client, QoS 1, a publish per message, then wait for every PUBACK.
Used by `twin bench loadgen` as the baseline a user would write.

    paho_publish.py --port P --file F --count N [--qos 1]

At QoS 0 the wait is for each message to be written to the socket.

F holds one message per line, `topic<TAB>payload`; they are cycled.
Prints one JSON object: {"msgs_per_s": …, "seconds": …}.
"""
import argparse
import collections
import json
import time

import paho.mqtt.client as mqtt


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--inflight", type=int, default=100)
    a = p.parse_args()
    with open(a.file) as f:
        lines = [l.rstrip("\n").split("\t", 1) for l in f if "\t" in l]
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-bench")
    c.max_inflight_messages_set(a.inflight)
    c.max_queued_messages_set(0)
    c.connect(a.host, a.port)
    c.loop_start()
    while not c.is_connected():
        time.sleep(0.01)
    t0 = time.perf_counter()
    # paho numbers messages with 16 bits: at most 65,535 may be queued, so
    # the loop waits for old ones once 50,000 are outstanding.
    infos = collections.deque()
    for i in range(a.count):
        topic, payload = lines[i % len(lines)]
        if len(infos) >= 50_000:
            infos.popleft().wait_for_publish()
        infos.append(c.publish(topic, payload, qos=a.qos))
    for info in infos:
        info.wait_for_publish()
    dt = time.perf_counter() - t0
    c.loop_stop()
    c.disconnect()
    print(json.dumps({"msgs_per_s": a.count / dt, "seconds": dt}))


if __name__ == "__main__":
    main()
