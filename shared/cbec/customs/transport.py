"""The customs link's transport port: send DxpMsgs, fetch the receipts customs sent back.

Adapters: :class:`cbec.customs.filedrop.FileDropLink` (DXP exchange folders),
:class:`cbec.customs.http_link.HttpGatewayLink` (a regional platform's HTTP gateway),
:class:`cbec.customs.amqp_link.AmqpLink` (a DXP node's queues on RabbitMQ), and
:class:`cbec.customs.routing.TransportRouter` (several of them, chosen per tenant or region).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from cbec.customs.filedrop import Received, Staged

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def message_name(candidates: Sequence[object], body: bytes) -> str:
    """A received message's name: the first candidate that is a safe file name (letters, digits, ``_.-``;
    no path), else one derived from the content, so the same message always gets the same name."""
    for candidate in candidates:
        if isinstance(candidate, bytes):
            candidate = candidate.decode("utf-8", "replace")
        if isinstance(candidate, str) and SAFE_NAME.fullmatch(candidate):
            return candidate
    return f"RECEIVED_{hashlib.sha256(body).hexdigest()[:32]}.xml"


@runtime_checkable
class Transport(Protocol):
    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        """A file (message) name for one transmission, unique within the link."""
        ...

    def transmit(self, name: str, data: bytes) -> object:
        """Hand one DxpMsg to customs; raise if it was not accepted."""
        ...

    def transmit_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Hand several DxpMsgs (name, bytes) to customs; raise if one was not accepted."""
        ...

    def stage(self, files: Sequence[Staged]) -> None:
        """Keep outgoing messages aside, not yet visible to customs, while their transmission is recorded."""
        ...

    def hand_over(self, files: Sequence[Staged]) -> int:
        """Give staged messages to customs (one no longer staged is skipped); how many were given."""
        ...

    def discard(self, files: Sequence[Staged]) -> None:
        """Drop staged messages whose transmission was not recorded."""
        ...

    def staged(self) -> list[tuple[Staged, float]]:
        """The staged messages (bytes left out) and their age in seconds."""
        ...

    def fetch(self) -> list[Received]:
        """Receipt messages waiting; fetching again may repeat them (ingest dedupes)."""
        ...

    def acknowledge(self, name: str) -> None:
        """``name`` is recorded: it need not be fetched again."""
        ...

    def quarantine(self, name: str) -> None:
        """``name`` is recorded as rejected: it need not be fetched again (kept aside for a look)."""
        ...

    def idle(self) -> float:
        """Seconds a poller that found nothing may wait before fetching again."""
        ...
