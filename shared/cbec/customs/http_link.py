"""A regional platform's HTTP gateway as the customs transport (ceb-formats §6, "Regional HTTP gateway").

Send: ``POST <base>/cebcmsg`` with ``{"Message": {"MessageHead": {"MessageId", "MessageType",
"SenderID", "ReceiverID", "SendTime", "Version"}, "MessageBody": {"data": <base64 DxpMsg>}}}``;
the gateway answers ``OK``. Receive: ``GET <base>/<receipt type>msg?dxpid=<own DXP id>&qryid=<cursor>``
for each receipt type, answering ``{"messages": [{"name", "data": <base64>}], "next": <cursor>}``.

:func:`fake_gateway` is a FastAPI stand-in for tests and local runs: it drops what it receives
into a folder (where the customs simulator reads it) and serves the simulator's receipt folder.
"""

from __future__ import annotations

import base64
import itertools
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from cbec.customs.filedrop import seed_file_name, write_atomically

CST = timezone(timedelta(hours=8))
RECEIPT_TYPES = ("CEB312", "CEB412", "CEB512", "CEB514", "CEB622", "CEB624", "CEB626", "CEB712", "CEB816",
                 "CEB818", "CEB900")


class GatewayError(RuntimeError):
    """The gateway did not accept a message."""


class HttpGatewayLink:
    """Transport over the gateway; remembers how far it read each receipt type (``qryid``)."""

    def __init__(self, base_url: str, dxp_id: str, *, client: httpx.Client | None = None,
                 timeout: float = 10.0, poll_every: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_every = poll_every  # seconds between two rounds of receipt queries
        self._last_fetch = float("-inf")
        self.dxp_id = dxp_id
        self.client = client or httpx.Client(timeout=timeout)
        self.cursors: dict[str, str] = {}
        self._seq = itertools.count(1)

    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        return seed_file_name(msg_type, customs_code, when, next(self._seq))

    def transmit(self, name: str, data: bytes) -> None:
        msg_type = name.split("_", 1)[0]
        body = {"Message": {
            "MessageHead": {"MessageId": str(uuid.uuid4()).upper(), "MessageType": f"{msg_type}.xml",
                            "SenderID": self.dxp_id, "ReceiverID": "PORT", "FileName": name,
                            "SendTime": datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S"), "Version": "1.0"},
            "MessageBody": {"data": base64.b64encode(data).decode()},
        }}
        response = self.client.post(f"{self.base_url}/cebcmsg", json=body)
        if response.status_code != 200 or response.text.strip() != "OK":
            raise GatewayError(f"gateway refused {name}: HTTP {response.status_code} {response.text[:200]}")

    def fetch(self) -> list[tuple[str, bytes]]:
        if time.monotonic() - self._last_fetch < self.poll_every:
            return []
        self._last_fetch = time.monotonic()
        out: list[tuple[str, bytes]] = []
        for receipt_type in RECEIPT_TYPES:
            params = {"dxpid": self.dxp_id, "qryid": self.cursors.get(receipt_type, "")}
            response = self.client.get(f"{self.base_url}/{receipt_type.lower()}msg", params=params)
            response.raise_for_status()
            page: dict[str, Any] = response.json()
            out += [(str(m["name"]), base64.b64decode(m["data"])) for m in page.get("messages", [])]
            if page.get("next"):
                self.cursors[receipt_type] = str(page["next"])
        return out

    def acknowledge(self, name: str) -> None:
        """Nothing to do: the query cursor already moved past it."""

    def close(self) -> None:
        self.client.close()


def fake_gateway(outbox: Path, inbox: Path) -> FastAPI:
    """A FastAPI app playing the gateway in front of a file-drop customs (the simulator)."""
    app = FastAPI(title="fake regional gateway")
    received: list[dict[str, Any]] = []
    app.state.received = received

    @app.post("/cebcmsg", response_class=PlainTextResponse)
    async def receive(request: Request) -> str:
        body = await request.json()
        head = body["Message"]["MessageHead"]
        data = base64.b64decode(body["Message"]["MessageBody"]["data"])
        received.append(head)
        name = head.get("FileName") or seed_file_name(head["MessageType"].removesuffix(".xml"), "0000000000",
                                                      datetime.now(CST), len(received))
        write_atomically(outbox, name, data)
        return "OK"

    served: dict[str, list[str]] = {}

    @app.get("/{receipt_type}msg")
    def receipts(receipt_type: str, dxpid: str, qryid: str = "") -> dict[str, Any]:
        """``qryid`` is how many messages of this type the caller has read (the gateway's cursor)."""
        known = served.setdefault(receipt_type, [])
        prefix = receipt_type.upper() + "Message_"
        fresh = sorted((p for p in inbox.glob(prefix + "*.xml") if p.name not in set(known)),
                       key=lambda p: p.stat().st_mtime_ns)
        known += [p.name for p in fresh]
        start = int(qryid or 0)
        names = known[start:]
        messages = [{"name": n, "data": base64.b64encode((inbox / n).read_bytes()).decode()} for n in names]
        return {"messages": messages, "next": str(len(known))}

    return app
