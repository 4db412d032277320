"""A fake regional HTTP gateway (see :mod:`cbec.customs.http_link`) for tests and local runs: it drops
what it receives into a folder (where the customs simulator reads it) and serves the simulator's
receipt folder."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

from cbec.customs.filedrop import seed_file_name, write_atomically
from cbec.customs.http_link import CST
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse


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
    app.state.extra = []  # raw message entries served once, with the next page of any type (hostile tests)

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
        messages: list[Any] = [{"name": n, "data": base64.b64encode((inbox / n).read_bytes()).decode()}
                               for n in names]
        messages += app.state.extra
        app.state.extra = []
        return {"messages": messages, "next": str(len(known))}

    return app
