"""The HTTP API over the Postgres event store and read model, as the worker wires it."""

from __future__ import annotations

import json

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.eventstore_adapter import EventStoreDeclarations
from cbec.declaration.http import make_http_app
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.store import EventStore
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, declare_orders
from cbec_testkit.tenants import demo_registry
from fastapi.testclient import TestClient
from order_service.domain import ORDER_POLICY

pytestmark = pytest.mark.integration


def test_declare_read_and_list_over_postgres(database_url: str, pg_schema: str) -> None:
    store = EventStore.open(database_url, schema=pg_schema, name="order")
    model = ReadModel.open(database_url, "order", schema=pg_schema)
    app = DeclarationApp(
        [ORDER_POLICY], EventStoreDeclarations(store), demo_registry(), ceb_bridge.validate, ceb_bridge.render
    )
    platform_key, platform = issue_key(PLATFORM)
    payer_key, payer = issue_key(PAYMENT_COMPANY)
    api = make_http_app(
        app,
        "order",
        auth=ApiKeyRegistry([platform, payer]),
        readmodel=model,
        projection=Projection(StoreSource(store), model),
    )
    try:
        client = TestClient(api)
        bodies = [json.loads(c.to_json()) for c in declare_orders(4)]
        locations = []
        for body in bodies:
            answer = client.post(
                "/v1/documents", json=body, headers={"Authorization": f"Bearer {platform_key}"}
            )
            assert answer.status_code == 202, answer.text
            locations.append(answer.headers["Location"])
        view = client.get(locations[0], headers={"X-Api-Key": payer_key}).json()
        assert view["status"] == "released"
        assert (
            view["document"]["OrderHead"]["buyerIdNumber"]
            != bodies[0]["document"]["OrderHead"]["buyerIdNumber"]
        )
        first = client.get("/v1/documents", params={"limit": 3}, headers={"X-Api-Key": platform_key}).json()
        rest = client.get(
            "/v1/documents",
            params={"limit": 3, "cursor": first["nextCursor"]},
            headers={"X-Api-Key": platform_key},
        ).json()
        keys = [i["businessKey"][1] for i in first["items"] + rest["items"]]
        assert keys == [b["document"]["OrderHead"]["orderNo"] for b in reversed(bodies)]
        assert rest["nextCursor"] is None
    finally:
        model.close()
        store.close()
