"""The customs link's transport port: send a DxpMsg, fetch the receipts customs sent back.

Two adapters: :class:`cbec.customs.filedrop.FileDropLink` (DXP exchange folders) and
:class:`cbec.customs.http_link.HttpGatewayLink` (a regional platform's HTTP gateway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        """A file (message) name for one transmission, unique within the link."""
        ...

    def transmit(self, name: str, data: bytes) -> object:
        """Hand one DxpMsg to customs; raise if it was not accepted."""
        ...

    def fetch(self) -> list[tuple[str, bytes]]:
        """Receipt messages waiting (name, raw bytes); fetching again may repeat them (ingest dedupes)."""
        ...

    def acknowledge(self, name: str) -> None:
        """``name`` is recorded: it need not be fetched again by this process."""
        ...
