"""A small Python client of the twin.v1 gRPC API.

The message and service classes are generated from proto/twin/v1/*.proto
(see README.md in this folder); this module adds the token, and a few calls
written the way a script wants them.

    client = TwinClient("127.0.0.1:50051", token="...")
    for e in client.entities(kinds=["sensor"]):
        print(e.id, e.subtype)
"""
import grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from twin.v1 import twin_pb2_grpc, types_pb2, twin_pb2

KINDS = {
    "parcel": types_pb2.KIND_PARCEL,
    "machine": types_pb2.KIND_MACHINE,
    "sensor": types_pb2.KIND_SENSOR,
    "vehicle": types_pb2.KIND_VEHICLE,
    "zone": types_pb2.KIND_ZONE,
}


class TwinClient:
    def __init__(self, address, token, root_certificates=None):
        self.metadata = (("authorization", f"Bearer {token}"),)
        if root_certificates:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.secure_channel(address, creds)
        else:
            self.channel = grpc.insecure_channel(address)
        self.stub = twin_pb2_grpc.TwinStub(self.channel)

    def services(self):
        """The services the server offers, through server reflection."""
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        for answer in stub.ServerReflectionInfo(iter([request]), metadata=self.metadata):
            return [s.name for s in answer.list_services_response.service]
        return []

    def entity(self, entity_id):
        return self.stub.GetEntity(twin_pb2.GetEntityRequest(id=entity_id), metadata=self.metadata)

    def entities(self, kinds=(), subtypes=(), bbox=(), page_size=500):
        """Every entity matching the filter, page after page."""
        flt = twin_pb2.EntityFilter(kinds=[KINDS[k] for k in kinds], subtypes=subtypes, bbox=bbox)
        token = ""
        while True:
            page = self.stub.ListEntities(
                twin_pb2.ListEntitiesRequest(filter=flt, page_size=page_size, page_token=token),
                metadata=self.metadata,
            )
            yield from page.entities
            token = page.next_page_token
            if not token:
                return

    def watch(self, ids=(), types=()):
        """A stream of WatchResponse: event batches, or Lagged."""
        request = twin_pb2.WatchRequest(filter=twin_pb2.EntityFilter(ids=ids), types=types)
        return self.stub.WatchEntities(request, metadata=self.metadata)

    def ingest(self, batches):
        """Sends (observations, durable) batches; yields one IngestAck each."""
        def requests():
            for n, (observations, durable) in enumerate(batches):
                yield twin_pb2.IngestRequest(batch_id=n, observations=observations, durable=durable)
        return self.stub.Ingest(requests(), metadata=self.metadata)

    def history(self, entity_id, measurand, from_ms, to_ms, resolution=twin_pb2.RESOLUTION_RAW):
        return self.stub.GetHistory(
            twin_pb2.GetHistoryRequest(
                id=entity_id, measurand=measurand, from_ms=from_ms, to_ms=to_ms, resolution=resolution
            ),
            metadata=self.metadata,
        )

    def simulation(self):
        return self.stub.GetSimulation(types_pb2.Empty(), metadata=self.metadata)


def number(entity, time_ms, measurand, x, unit=""):
    """An observation of a number."""
    return types_pb2.Observation(
        entity=entity, time_ms=time_ms, measurand=measurand, value=types_pb2.Value(number=x), unit=unit
    )
