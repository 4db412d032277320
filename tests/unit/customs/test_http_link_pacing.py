"""An idle HTTP gateway link asks less and less often (a round is eleven requests), and a
transmission or a round that found receipts brings it back to its configured pace."""

from __future__ import annotations

import base64

import httpx
import pytest
from cbec.customs import http_link
from cbec.customs.http_link import QUIET_BACKOFF, RECEIPT_TYPES, HttpGatewayLink


class Gateway:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.waiting: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.method == "POST":
            return httpx.Response(200, text="OK")
        messages, self.waiting = self.waiting, []
        return httpx.Response(200, json={"messages": messages, "next": ""})


def test_quiet_rounds_stretch_the_wait_and_traffic_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(http_link.time, "monotonic", lambda: now[0])
    gateway = Gateway()
    link = HttpGatewayLink("http://gw", "DXPENT0000000001", poll_every=2.0,
                           client=httpx.Client(transport=httpx.MockTransport(gateway)))
    waits = []
    for _ in range(5):
        assert link.fetch() == []
        assert link.fetch() == []  # not due yet: no request
        waits.append(link.idle())
        now[0] += waits[-1]
    assert waits == [4.0, 8.0, 8.0, 8.0, 8.0] and QUIET_BACKOFF * 2.0 == 8.0
    assert len(gateway.requests) == 5 * len(RECEIPT_TYPES)

    assert link.fetch() == [] and link.idle() == 8.0
    link.transmit("CEB311Message_3105960001_20261207100000_00001.xml", b"<x/>")
    assert link.idle() == 2.0  # receipts will follow: back to the configured pace
    now[0] += 2.0
    gateway.waiting = [{"name": "CEB312Message_1.xml", "data": base64.b64encode(b"<r/>").decode()}]
    assert [r.name for r in link.fetch()] == ["CEB312Message_1.xml"]
    assert link.idle() == 2.0
