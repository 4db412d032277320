"""A buyer's quota ledger for one calendar year: one event stream per (buyer HMAC, year).

Events, each naming the list by its clearance (``listKey`` = ``ebpCode:orderNo``):
- ``QuotaReserved {amount}``: a list was accepted at intake; its amount counts from now on, so two
  lists declared at the same time cannot both fit under the limit;
- ``QuotaConsumed``: customs released the list (800): the reservation becomes use;
- ``QuotaReleased``: the list was rejected, withdrawn, refused or cancelled: its amount no longer counts.
A change of a list reserves again under the same listKey; the latest reservation replaces the former.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cbec.declaration.doctypes import STREAM_NAMESPACE

RESERVED = "QuotaReserved"
CONSUMED = "QuotaConsumed"
RELEASED = "QuotaReleased"


def buyer_ref(key: bytes, buyer_id_number: str) -> str:
    """HMAC-SHA256 of the buyer's ID number: the ledger never holds the number itself."""
    return hmac.new(key, buyer_id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def stream_id(ref: str, year: int) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, f"quota:{ref}:{year}")


@dataclass(slots=True)
class Ledger:
    """Amounts by list: ``reserved`` (pending) and ``consumed`` (released by customs)."""

    version: int = 0
    reserved: dict[str, Decimal] = field(default_factory=dict)
    consumed: dict[str, Decimal] = field(default_factory=dict)

    def apply(self, event_type: str, data: dict[str, Any]) -> None:
        self.version += 1
        key = str(data["listKey"])
        if event_type == RESERVED:
            self.consumed.pop(key, None)
            self.reserved[key] = Decimal(str(data["amount"]))
        elif event_type == CONSUMED:
            amount = self.reserved.pop(key, None)
            if amount is not None:
                self.consumed[key] = amount
        elif event_type == RELEASED:
            self.reserved.pop(key, None)
            self.consumed.pop(key, None)

    def used(self, *, excluding: str = "") -> Decimal:
        """Released plus pending amounts, leaving out one list (the one being changed)."""
        amounts = [a for k, a in (*self.reserved.items(), *self.consumed.items()) if k != excluding]
        return sum(amounts, Decimal(0))

    def holds(self, list_key: str) -> bool:
        return list_key in self.reserved or list_key in self.consumed


def fold(events: list[tuple[str, dict[str, Any]]]) -> Ledger:
    ledger = Ledger()
    for event_type, data in events:
        ledger.apply(event_type, data)
    return ledger
