"""A regional platform's HTTP gateway as the customs transport (ceb-formats §6, "Regional HTTP gateway").

Send: ``POST <base>/cebcmsg`` with ``{"Message": {"MessageHead": {"MessageId", "MessageType",
"SenderID", "ReceiverID", "SendTime", "Version"}, "MessageBody": {"data": <base64 DxpMsg>}}}``;
the gateway answers ``OK``. Receive: ``GET <base>/<receipt type>msg?dxpid=<own DXP id>&qryid=<cursor>``
for each receipt type, answering ``{"messages": [{"name", "data": <base64>}], "next": <cursor>}``.

The test kit's ``cbec_testkit.customs.gateway`` plays such a gateway in front of the customs simulator.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from cbec.ceb.safe_xml import MAX_BYTES
from cbec.customs.filedrop import Received, Staged, seed_file_name
from cbec.customs.transport import message_name

CST = timezone(timedelta(hours=8))
RECEIPT_TYPES = ("CEB312", "CEB412", "CEB512", "CEB514", "CEB622", "CEB624", "CEB626", "CEB712", "CEB816",
                 "CEB818", "CEB900")


class GatewayError(RuntimeError):
    """The gateway did not accept a message."""


QUIET_BACKOFF = 4  # rounds that found nothing stretch the wait up to this many times ``poll_every``


class HttpGatewayLink:
    """Transport over the gateway; remembers how far it read each receipt type (``qryid``).

    A round of queries costs eleven requests, so it runs at most every ``poll_every`` seconds, and
    while rounds come back empty the wait doubles up to ``QUIET_BACKOFF`` times that; a transmission
    (receipts will follow) or a round that found something brings it back to ``poll_every``.
    """

    def __init__(self, base_url: str, dxp_id: str, *, client: httpx.Client | None = None,
                 timeout: float = 10.0, poll_every: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_every = poll_every  # seconds between two rounds of receipt queries
        self._last_fetch = float("-inf")
        self._wait = poll_every  # until the next round of queries
        self.dxp_id = dxp_id
        self.client = client or httpx.Client(timeout=timeout)
        self.cursors: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._staged: dict[tuple[str, str], tuple[bytes, float]] = {}

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
        self._wait = self.poll_every

    def transmit_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        for name, data in files:
            self.transmit(name, data)

    def stage(self, files: Sequence[Staged]) -> None:
        """Kept in memory: the gateway has no place to put a message aside (a crash between the record
        and the post leaves the document unsent; the saga's receipt deadline resends it)."""
        now = time.monotonic()
        for f in files:
            self._staged[(f.ticket, f.name)] = (f.data, now)

    def hand_over(self, files: Sequence[Staged]) -> int:
        posted = 0
        for f in files:
            held = self._staged.get((f.ticket, f.name))
            if held is None:
                continue
            self.transmit(f.name, held[0])
            del self._staged[(f.ticket, f.name)]
            posted += 1
        return posted

    def discard(self, files: Sequence[Staged]) -> None:
        for f in files:
            self._staged.pop((f.ticket, f.name), None)

    def staged(self) -> list[tuple[Staged, float]]:
        now = time.monotonic()
        return [(Staged(ticket, name), now - at) for (ticket, name), (_, at) in self._staged.items()]

    def fetch(self) -> list[Received]:
        """One round of receipt queries when it is due (see the class docstring; sooner: nothing)."""
        if time.monotonic() - self._last_fetch < self._wait:
            return []
        self._last_fetch = time.monotonic()
        out: list[Received] = []
        for receipt_type in RECEIPT_TYPES:
            params = {"dxpid": self.dxp_id, "qryid": self.cursors.get(receipt_type, "")}
            response = self.client.get(f"{self.base_url}/{receipt_type.lower()}msg", params=params)
            response.raise_for_status()
            page: dict[str, Any] = response.json()
            out += [_received(m) for m in page.get("messages", [])]
            if page.get("next"):
                self.cursors[receipt_type] = str(page["next"])
        self._wait = self.poll_every if out else min(2 * self._wait, QUIET_BACKOFF * self.poll_every)
        return out

    def acknowledge(self, name: str) -> None:
        """Nothing to do: the query cursor already moved past it."""

    def quarantine(self, name: str) -> None:
        """Nothing to do: the query cursor already moved past it (the rejection is recorded)."""

    def idle(self) -> float:
        """Until the next round of queries is due (a poller sleeps instead of asking early)."""
        return max(0.05, self._last_fetch + self._wait - time.monotonic())

    def close(self) -> None:
        self.client.close()


def _received(message: object) -> Received:
    """One message of a gateway page; a malformed one comes with its ``problem`` (never an exception).
    Data over ``MAX_BYTES`` is cut to that plus one byte, which the parser refuses as oversize."""
    if not isinstance(message, dict):
        return Received(message_name((), repr(message).encode()[:4096]), b"",
                        "malformed gateway message: not an object")
    encoded = message.get("data")
    try:
        if not isinstance(encoded, str):
            raise ValueError("no base64 'data'")
        data = base64.b64decode(encoded[:4 * (MAX_BYTES // 3 + 2)])[:MAX_BYTES + 1]
    except (ValueError, binascii.Error) as error:
        raw = str(encoded).encode()[:4096]
        return Received(message_name((message.get("name"),), raw), b"", f"malformed gateway message: {error}")
    return Received(message_name((message.get("name"),), data), data)
