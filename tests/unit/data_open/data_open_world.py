"""A platform on the order service's HTTP API with 179 mounted, and customs played by the test kit's
simulator: both over in-memory HTTP (no servers), a SQLite order store in a temporary folder."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.clock import Clock, SystemClock
from cbec.declaration.bootstrap import DeclarationBootstrap
from cbec.readmodel import ReadModel
from cbec.settings import Settings
from cbec.signing.certs import generate_rsa_identity, generate_sm2_identity
from cbec.signing.keys import load_software_key
from cbec.store.event_store import EventStore
from cbec.tenants import Role, Tenant, TenantRegistry
from cbec_testkit.customs.data_open import DataOpenCustoms, Drill, Platform
from fastapi.testclient import TestClient
from order_service import bootstrap as order
from order_service.data_open.keys import PlatformKeys
from order_service.data_open.store import DataOpenStore
from order_service.data_open.uploader import Uploader
from order_service.data_open.wiring import DataOpen, mount

PLATFORM, OTHER, OFF = "3301961234", "4401967777", "1105910159"
UPLOAD_URL = "https://customs.test/ceb2grab/grab/realTimeDataUpload"
SM2 = generate_sm2_identity(PLATFORM, "杭州测试跨境电商平台有限公司", serial=0x03000000000CDE6F)
RSA = generate_rsa_identity(OTHER, "广州测试跨境电商平台有限公司", key_size=1024, serial=0x01691FE9)


def tenants() -> TenantRegistry:
    def platform(code: str, on: bool) -> Tenant:
        return Tenant(code, f"platform {code}", frozenset({Role.PLATFORM, Role.ECOMMERCE}), f"DXPENT{code}",
                      data_open=on)

    return TenantRegistry([platform(PLATFORM, True), platform(OTHER, True), platform(OFF, False)])


def payment(platform: str, *orders: str, amount: str = "188.80000") -> dict[str, Any]:
    """One payment of ``platform`` covering ``orders``, as the platform submits it."""
    return {
        "payExchangeInfoHead": {
            "guid": str(uuid.uuid4()),
            "initalRequest": "https://pay.example/gateway?out_trade_no=T1&total_fee=188.8&sign=abc",
            "initalResponse": "ok",
            "ebpCode": platform,
            "payCode": "312226T001",
            "payTransactionId": "2026120722001400001",
            "totalAmount": amount,
            "currency": "142",
            "verDept": "3",
            "payType": "1",
            "tradingTime": "20261207101530",
            "note": "",
        },
        "payExchangeInfoLists": [
            {"orderNo": o, "goodsInfo": [{"gname": "婴儿奶粉 900g", "itemLink": f"https://shop.example/item/{o}"}],
             "recpAccount": "OSA571908863132601", "recpName": "Example Seller Ltd"}
            for o in orders
        ],
    }


class CustomsTransport(httpx.BaseTransport):
    """Customs' upload endpoint in memory; ``fail_first`` answers 503 that many times first."""

    def __init__(self, customs: DataOpenCustoms, fail_first: int = 0) -> None:
        self.customs, self.fail_first, self.posts = customs, fail_first, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.posts += 1
        if self.posts <= self.fail_first:
            return httpx.Response(503, text="busy")
        text = parse_qs(request.read().decode())["payExInfoStr"][0]
        code, message = self.customs.receive(text)
        return httpx.Response(200, json={"code": code, "message": message, "total": 0, "serviceTime": 0})


@dataclass
class World:
    customs: DataOpenCustoms
    platform: TestClient  # the order service's API, as customs and the platforms reach it
    transport: CustomsTransport
    data_open: DataOpen
    api_keys: dict[str, str]
    sleeps: list[float]

    @property
    def store(self) -> DataOpenStore:
        return self.data_open.store

    @property
    def uploader(self) -> Uploader:
        return self.data_open.uploader

    def submit(self, platform: str, body: Any, *, as_: str | None = None) -> httpx.Response:
        key = self.api_keys[as_ or platform]
        return self.platform.post("/v1/data-open/payments", content=json.dumps(body),
                                  headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})

    def open_req(self, platform: str, form: dict[str, str] | None = None, *, content: bytes | None = None
                 ) -> httpx.Response:
        url = f"/v1/data-open/{platform}/platDataOpen"
        if content is not None:
            return self.platform.post(url, content=content,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        return self.platform.post(url, data=form or {})

    def drill(self, platform: str, order_no: str | None = None) -> Drill:
        return self.customs.request(platform, self.platform, order_no=order_no)


def build_world(tmp_path: Path, *, environ: dict[str, str] | None = None, fail_first: int = 0,
                clock: Clock | None = None) -> World:
    keys, records = {}, []
    for code in (PLATFORM, OTHER, OFF):
        keys[code], record = issue_key(code)
        records.append(record)
    settings = Settings.from_environ({
        "CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'order.db'}",
        "CBEC_DATA_OPEN_UPLOAD_URL": UPLOAD_URL,
        "CBEC_API_KEYS": json.dumps(ApiKeyRegistry(records).to_json()),
        **(environ or {}),
    })
    registry = tenants()
    store = EventStore.open(settings.database.url, schema="order", name="order")
    readmodel = ReadModel.open(f"sqlite:///{tmp_path / 'order-readmodel.db'}", "order")
    parts = DeclarationBootstrap.build(order.BOOTSTRAP, settings, registry, store, readmodel=readmodel)
    signer = PlatformKeys({PLATFORM: load_software_key(*SM2), OTHER: load_software_key(*RSA)})
    customs = DataOpenCustoms()
    transport = CustomsTransport(customs, fail_first)
    sleeps: list[float] = []
    mount(parts, settings, registry, store, readmodel, signer=signer, client=httpx.Client(transport=transport),
          clock=clock or SystemClock())
    data_open: DataOpen = parts.extras["data_open"]
    data_open.uploader.sleep = sleeps.append
    client = TestClient(parts.http_app, base_url="https://platform.test", raise_server_exceptions=False)
    for code, cert in ((PLATFORM, SM2[1]), (OTHER, RSA[1])):
        customs.register(Platform(code, f"https://platform.test/v1/data-open/{code}/platDataOpen", cert),
                         [f"{code}-ORDER-{n}" for n in range(1, 6)])
    return World(customs, client, transport, data_open, keys, sleeps)
