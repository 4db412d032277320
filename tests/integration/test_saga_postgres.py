"""The saga on Postgres: two saga processes racing on one clearance still release each document once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cbec.clock import FakeClock
from cbec.declaration.routing import public_event
from cbec.store.event_store import EventStore
from saga_service import domain
from saga_service.application import SagaApp, stream_of
from saga_service.domain import Policy

pytestmark = pytest.mark.integration

KEY = "3105960001:PG00000001"


def _event(doc_type: str, version: int, event_type: str, **data: object) -> dict[str, Any]:
    stream = uuid.uuid5(uuid.NAMESPACE_URL, f"{doc_type}:{KEY}")
    data = {"docType": doc_type, "clearanceKey": KEY, **data}
    envelope: dict[str, Any] = public_event(stream, version, event_type, data)
    return envelope


def test_concurrent_sagas_release_the_waybill_exactly_once(database_url: str, pg_schema: str) -> None:
    stores = [EventStore.open(database_url, schema=pg_schema, name="saga") for _ in range(2)]
    clock = FakeClock()
    sagas = [SagaApp(s, policy=Policy(receipt_timeout=timedelta(minutes=5)), clock=clock) for s in stores]
    sagas[0].observe(_event("CEB511", 1, "DocumentReceived", sender="3105960003", businessKey=["L", "1"]))
    sagas[0].observe(_event("CEB511", 2, "DocumentHeld", waitingFor=["order", "payment"]))
    for doc_type, sender in (("CEB311", "3105960001"), ("CEB411", "3105960002")):
        sagas[0].observe(_event(doc_type, 1, "DocumentReceived", sender=sender))
    sagas[1].observe(_event("CEB311", 2, "ReceiptRecorded", returnStatus=120, returnTime="20260101000000001",
                            returnInfo=""))
    barrier = threading.Barrier(2)

    def deliver(saga: SagaApp) -> None:
        barrier.wait()
        saga.observe(_event("CEB411", 2, "ReceiptRecorded", returnStatus=120, returnTime="20260101000000002",
                            returnInfo=""))

    threads = [threading.Thread(target=deliver, args=(s,)) for s in sagas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = stores[0].read(stream_of(KEY))
    assert [e.data["docType"] for e in events if e.type == domain.RELEASE_ISSUED] == ["CEB511"]
    assert sagas[1].view(KEY)["documents"]["waybill"]["status"] == "released"
    for store in stores:
        store.close()
