"""Deterministic JSON for stored events (and anything else that must hash or diff stably)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, runtime_checkable
from uuid import UUID


@runtime_checkable
class Cipher(Protocol):
    """Encrypts the stored state bytes of each event (personal-data protection hook)."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"non-finite Decimal {obj!r} cannot be stored")
        return format(obj, "f")
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            raise ValueError("naive datetime cannot be stored; use timezone-aware UTC")
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable in an event")


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces; Decimals as plain strings ("12.50"),
    datetimes as ISO 8601, UUIDs as strings. Equal data gives equal bytes."""
    return _ENCODER.encode(obj).encode("utf-8")


def load_json(data: bytes) -> Any:
    """Parse JSON written by :func:`canonical_json` (Decimals come back as strings)."""
    return json.loads(data)
