"""The read model on Postgres, fed from the Postgres event store: idempotent rounds and paging."""

from __future__ import annotations

import pytest
from cbec.contracts.customs import ReceiptReceived
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.eventstore_adapter import EventStoreDeclarations
from cbec.privacy.cipher import AesGcmCipher, KeyRing, new_key
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.store import EventStore
from cbec_testkit.samples import PLATFORM, declare_orders
from cbec_testkit.tenants import demo_registry
from order_service.domain import ORDER_POLICY

pytestmark = pytest.mark.integration


def test_the_projection_follows_an_encrypted_postgres_store(database_url: str, pg_schema: str) -> None:
    cipher = AesGcmCipher(KeyRing.parse(f"k1:{new_key()}"))
    store = EventStore.open(database_url, schema=pg_schema, name="order", cipher=cipher)
    app = DeclarationApp(
        [ORDER_POLICY], EventStoreDeclarations(store), demo_registry(), ceb_bridge.validate, ceb_bridge.render
    )
    commands = declare_orders(12)
    for command in commands:
        app.declare(command)
    model = ReadModel.open(database_url, "order", schema=pg_schema)
    try:
        projection = Projection(StoreSource(store), model)
        assert projection.catch_up(limit=5) > 0
        assert projection.run_once() == 0
        head = commands[0].document["OrderHead"]
        app.record_receipt(
            ReceiptReceived(
                "r1", "CEB312", "CEB311", [PLATFORM, head["orderNo"]], 120, "20260101120005000", "", {}
            )
        )
        assert projection.run_once() == 1
        seen = []
        cursor = None
        while True:
            page = model.list(PLATFORM, cursor=cursor, limit=5)
            seen += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 12 and len({r.stream_id for r in seen}) == 12
        assert [r.business_key[1] for r in seen] == [
            c.document["OrderHead"]["orderNo"] for c in reversed(commands)
        ]
        accepted = model.list(PLATFORM, status="120").items
        assert [r.business_key[1] for r in accepted] == [head["orderNo"]]
        again = Projection(StoreSource(store), model, name="second")  # a replay from the start
        again.catch_up()
        assert model.list(PLATFORM, status="120").items == accepted
    finally:
        model.close()
        store.close()
