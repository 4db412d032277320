"""The 179 flow over real loopback sockets: the order service as its bootstrap builds it (the
platforms' keys read from ``CBEC_DATA_OPEN_KEYS_FILE``), served by uvicorn, its uploader running as a
poller thread, and customs' simulator served by uvicorn too."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.readmodel import ReadModel
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import Role, Tenant, TenantRegistry
from cbec_testkit.customs.data_open import DataOpenCustoms, Platform
from data_open_world import PLATFORM, SM2, payment
from order_service import bootstrap as order
from order_service.data_open.wiring import DataOpen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: Any, stack: list[tuple[uvicorn.Server, threading.Thread]]) -> str:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    stack.append((server, thread))
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def servers() -> Iterator[list[tuple[uvicorn.Server, threading.Thread]]]:
    stack: list[tuple[uvicorn.Server, threading.Thread]] = []
    yield stack
    for server, thread in stack:
        server.should_exit = True
        thread.join(timeout=5)


def test_the_customs_drill_passes_over_loopback_sockets(tmp_path: Path, servers: list[Any]) -> None:
    customs = DataOpenCustoms()
    customs_url = serve(customs.app(), servers)
    (tmp_path / "p.key").write_bytes(SM2[0])
    (tmp_path / "p.cer").write_bytes(SM2[1])
    (tmp_path / "keys.json").write_text(json.dumps(
        [{"customs_code": PLATFORM, "key_pem": str(tmp_path / "p.key"), "cert_pem": str(tmp_path / "p.cer")}]))
    api_key, record = issue_key(PLATFORM)
    settings = Settings.from_environ({
        "CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'order.db'}",
        "CBEC_DATA_OPEN_KEYS_FILE": str(tmp_path / "keys.json"),
        "CBEC_DATA_OPEN_UPLOAD_URL": f"{customs_url}/ceb2grab/grab/realTimeDataUpload",
        "CBEC_API_KEYS": json.dumps(ApiKeyRegistry([record]).to_json()),
    })
    tenants = TenantRegistry([Tenant(PLATFORM, "p", frozenset({Role.PLATFORM}), "DXP1", data_open=True)])
    service = order.build(settings, tenants, EventStore.open(settings.database.url, schema="order", name="order"),
                          readmodel=ReadModel.open(f"sqlite:///{tmp_path / 'rm.db'}", "order"))
    platform_url = serve(service.http_app, servers)
    uploader = service.extras["data_open"]
    assert isinstance(uploader, DataOpen)
    stop = threading.Event()

    def poll() -> None:  # as the process runtime runs a Paced poller
        while not stop.is_set():
            uploader.uploader.wakeup.clear()
            if uploader.uploader.round() == 0:
                uploader.uploader.wakeup.wait(uploader.uploader.idle())

    worker = threading.Thread(target=poll, daemon=True)
    worker.start()
    try:
        with httpx.Client() as client:
            answer = client.post(f"{platform_url}/v1/data-open/payments", json=payment(PLATFORM, "S-1", "S-2"),
                                 headers={"Authorization": f"Bearer {api_key}"})
            assert answer.status_code == 202, answer.text
            customs.register(Platform(PLATFORM, f"{platform_url}/v1/data-open/{PLATFORM}/platDataOpen", SM2[1]),
                             ["S-1", "S-2"])
            drill = customs.request(PLATFORM, client)
        assert drill.ack_seconds < 1.0 and drill.ack["code"] == "10000"
        for _ in range(100):
            if drill.uploaded_at is not None:
                break
            time.sleep(0.05)
        assert drill.passed, drill.problems
        assert drill.uploaded_at is not None and drill.uploaded_at - drill.requested_at < 5.0
    finally:
        stop.set()
        uploader.uploader.wakeup.set()
        worker.join(timeout=5)
        for close in service.on_close:
            close()
