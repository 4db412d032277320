"""The 179 interface on Postgres: its tables in the order service's schema, the repeat of a
``sessionID`` refused by the primary key, personal data encrypted at rest, the flow against the
simulator, and retention pruning."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.clock import FakeClock
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec.settings import DataOpenSettings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import load_software_key
from cbec.tenants import Role, Tenant, TenantRegistry
from cbec_testkit.customs.data_open import DataOpenCustoms, Platform
from fastapi import FastAPI
from fastapi.testclient import TestClient
from order_service.data_open.keys import PlatformKeys
from order_service.data_open.routes import make_router
from order_service.data_open.store import DataOpenStore
from order_service.data_open.uploader import Uploader

pytestmark = pytest.mark.integration

PLATFORM = "3301961234"


def payment(order_no: str) -> dict[str, object]:
    return {
        "payExchangeInfoHead": {
            "guid": str(uuid.uuid4()), "initalRequest": "buyer 110101199001011234 pays", "initalResponse": "ok",
            "ebpCode": PLATFORM, "payCode": "312226T001", "payTransactionId": "T1", "totalAmount": "10.50",
            "currency": "142", "verDept": "3", "tradingTime": "20261207101530"},
        "payExchangeInfoLists": [{"orderNo": order_no, "goodsInfo": [{"gname": "g", "itemLink": "https://x/1"}],
                                  "recpAccount": "A1", "recpName": "Seller"}],
    }


def test_the_179_flow_and_retention_on_postgres(database_url: str, pg_schema: str) -> None:
    clock = FakeClock(datetime.now(UTC))
    cipher = AesGcmCipher.from_spec(f"k1:{new_key()}")
    store = DataOpenStore.open(database_url, schema=pg_schema, cipher=cipher)
    key, cert = generate_sm2_identity(PLATFORM, "测试平台")
    tenants = TenantRegistry([Tenant(PLATFORM, "p", frozenset({Role.PLATFORM}), "DXP1", data_open=True)])
    customs = DataOpenCustoms()

    def upload(request: httpx.Request) -> httpx.Response:
        code, message = customs.receive(parse_qs(request.read().decode())["payExInfoStr"][0])
        return httpx.Response(200, json={"code": code, "message": message})

    uploader = Uploader(store, PlatformKeys({PLATFORM: load_software_key(key, cert)}), tenants,
                        httpx.Client(transport=httpx.MockTransport(upload)),
                        DataOpenSettings(upload_url="https://customs.test/up"), clock)
    api_key, record = issue_key(PLATFORM)
    app = FastAPI()
    app.state.api_keys = ApiKeyRegistry([record])
    app.include_router(make_router(store, tenants, clock, threading.Event()))
    client = TestClient(app, base_url="https://platform.test")
    customs.register(Platform(PLATFORM, f"https://platform.test/v1/data-open/{PLATFORM}/platDataOpen", cert),
                     ["O-1"])
    try:
        assert client.post("/v1/data-open/payments", json=payment("O-1"),
                           headers={"Authorization": f"Bearer {api_key}"}).status_code == 202
        with store.engine.connect() as conn:
            sealed = conn.execute(store.payments.select()).one().body
        assert b"110101199001011234" not in bytes(sealed)  # encrypted at rest

        drill = customs.request(PLATFORM, client)
        assert not store.record_request(PLATFORM, drill.session_id, "O-1", 1, clock.now())  # a repeat
        assert uploader.round() == 1
        assert drill.passed, drill.problems
        assert store.next_due() is None

        clock.advance(timedelta(days=1099))
        uploader.round()
        assert store.request(drill.session_id) is None and store.audit_entries() == []
        assert store.payment_for(PLATFORM, "O-1") is None
    finally:
        store.close()
