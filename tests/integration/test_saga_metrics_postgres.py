"""The saga's document gauges on Postgres: rows written with the saga's events, counted by one grouped
query, the same answer from any replica."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from cbec.clock import FakeClock
from cbec.contracts.events import DeclarationEvent, DocumentHeld, DocumentReceived, DocumentSent, EventData
from cbec.store.event_store import EventStore
from saga_service.application import SagaApp
from saga_service.domain import Policy
from saga_service.metrics import DocumentGauges

pytestmark = pytest.mark.integration

KEY = "3105960001:PGM0000001"


def _event(version: int, payload: EventData) -> DeclarationEvent:
    stream = uuid.uuid5(uuid.NAMESPACE_URL, f"{payload.doc_type}:{KEY}")
    return DeclarationEvent.of(stream, version, payload.TYPE, payload.to_dict())


def test_held_and_overdue_documents_are_counted_from_the_saga_table(database_url: str, pg_schema: str) -> None:
    stores = [EventStore.open(database_url, schema=pg_schema, name="saga") for _ in range(2)]
    clock = FakeClock()
    policy = Policy(receipt_timeout=timedelta(minutes=5), max_resends=0)
    saga = SagaApp(stores[0], policy=policy, clock=clock)
    gauges = DocumentGauges(stores[0], policy, clock=clock, every=0).attach(saga)
    saga.observe(_event(1, DocumentReceived(doc_type="CEB511", clearance_key=KEY, business_key=["L", "1"],
                                            sender="3105960003", command_id="c1", content_hash="0" * 64)))
    saga.observe(_event(2, DocumentHeld(doc_type="CEB511", clearance_key=KEY, waiting_for=["order", "payment"])))
    saga.observe(_event(1, DocumentReceived(doc_type="CEB311", clearance_key=KEY, sender="3105960001",
                                            command_id="c1", content_hash="0" * 64)))
    saga.observe(_event(2, DocumentSent(doc_type="CEB311", clearance_key=KEY, request_id="r1", file_name="f.xml",
                                        cop_msg_id="M1", sent_at=clock.now().isoformat())))
    assert gauges.counts() == ([(("CEB511", "order,payment"), 1.0)], [(("CEB311",), 0.0), (("CEB511",), 0.0)])
    clock.advance(minutes=6)
    saga.tick()  # no resends allowed: the saga alerts, the order stays overdue
    replica = DocumentGauges(stores[1], policy, clock=clock, every=0)  # another replica reads the same table
    assert not replica.created
    assert replica.counts() == ([(("CEB511", "order,payment"), 1.0)], [(("CEB311",), 1.0), (("CEB511",), 0.0)])
    for store in stores:
        store.close()
