"""Runs the Python client against a real `twin run` and checks what it reads.

    TWIN_BIN=target/debug/twin python -m unittest test_client
"""
import math
import os
import subprocess
import threading
import unittest

import grpc

from twin.v1 import types_pb2
from twin_client import TwinClient, number

TOKEN = "python-test-token"


class AgainstTwinRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [os.environ.get("TWIN_BIN", "twin"), "run", "--scenario", "city", "--scale", "0.3",
             "--ephemeral", "--forever", "--clock", "x60", "--listen", "127.0.0.1:0", "--token", TOKEN,
             # Readings an hour ahead of the world, so that it does not overtake them.
             "--max-skew", "2h"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"},
        )
        for line in cls.proc.stderr:
            if line.startswith("gRPC listening on http://"):
                cls.address = line.strip().removeprefix("gRPC listening on http://")
                break
        else:
            raise RuntimeError("twin run did not start its gRPC server")
        # Keep reading stderr so that the server never blocks on it.
        threading.Thread(target=lambda: [None for _ in cls.proc.stderr], daemon=True).start()
        cls.client = TwinClient(cls.address, TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()

    def test_reflection_lists_the_service(self):
        services = self.client.services()
        self.assertIn("twin.v1.Twin", services)
        self.assertIn("grpc.health.v1.Health", services)

    def test_a_wrong_token_is_refused(self):
        other = TwinClient(self.address, "wrong")
        with self.assertRaises(grpc.RpcError) as e:
            other.simulation()
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_lists_entities_page_by_page(self):
        sensors = list(self.client.entities(kinds=["sensor"], page_size=7))
        self.assertGreater(len(sensors), 7)
        self.assertTrue(all(s.id.startswith("sensor/") for s in sensors))
        self.assertEqual(len({s.id for s in sensors}), len(sensors))
        loops = list(self.client.entities(subtypes=["traffic-loop"]))
        self.assertTrue(loops and all(e.subtype == "traffic-loop" for e in loops))

    def test_ingests_with_per_item_errors_and_reads_it_back(self):
        loop = next(iter(self.client.entities(subtypes=["traffic-loop"]))).id
        t = self.client.simulation().time_ms + 3_600_000
        batch = [
            number(loop, t, "traffic_flow", 1234.0, unit="veh/h"),
            number(loop, t, "traffic_flow", math.nan),
            number(loop, t, "traffic_flow", 1.0, unit="veh/min"),
            number("sensor/nobody", t, "traffic_flow", 1.0),
        ]
        acks = list(self.client.ingest([(batch, True)]))
        self.assertEqual(len(acks), 1)
        codes = [(e.index, e.code) for e in acks[0].errors]
        self.assertEqual(codes, [(1, "not_finite"), (2, "wrong_unit"), (3, "unknown_entity")])
        self.assertTrue(acks[0].durable)
        entity = self.client.entity(loop)
        flow = [r for r in entity.readings if r.measurand == "traffic_flow"][0]
        self.assertEqual(flow.value.number, 1234.0)
        history = self.client.history(loop, "traffic_flow", t - 1, t + 1)
        self.assertEqual([(s.time_ms, s.value) for s in history.samples], [(t, 1234.0)])

    def test_reads_each_kinds_state_as_typed_fields(self):
        bus = next(iter(self.client.entities(subtypes=["bus"])))
        self.assertEqual(bus.WhichOneof("state"), "vehicle")
        self.assertEqual(types_pb2.VehicleMode.Name(bus.vehicle.mode), "VEHICLE_MODE_BUS")
        self.assertNotEqual(bus.vehicle.status, types_pb2.VEHICLE_STATUS_UNSPECIFIED)
        loop = next(iter(self.client.entities(subtypes=["traffic-loop"])))
        self.assertEqual(loop.WhichOneof("state"), "sensor")
        self.assertIn("traffic_flow", loop.sensor.measurands)
        self.assertTrue(all(r.level != types_pb2.ALARM_LEVEL_UNSPECIFIED for r in loop.readings))
        self.assertTrue(all(r.type != types_pb2.RELATION_TYPE_UNSPECIFIED for r in loop.relations))

    def test_watches_live_events(self):
        bus = next(iter(self.client.entities(subtypes=["bus"]))).id
        stream = self.client.watch(ids=[bus], types=[types_pb2.EVENT_TYPE_STATE_CHANGED])
        seen = 0
        for message in stream:
            if message.HasField("events"):
                self.assertTrue(all(e.entity == bus for e in message.events.events))
                seen += len(message.events.events)
            if seen >= 3:
                break
        stream.cancel()
        self.assertGreaterEqual(seen, 3)


if __name__ == "__main__":
    unittest.main()
