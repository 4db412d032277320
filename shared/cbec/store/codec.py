"""Deterministic JSON for stored events (and anything else that must hash or diff stably)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import orjson

from cbec import fastjson


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
    datetimes as ISO 8601, UUIDs as strings. Equal data gives equal bytes.

    Written by orjson (several times faster; every stored event is encoded once) when ``obj`` holds
    only types on which it writes the same bytes as ``json`` (see ``_LEAVES``), else by
    ``json``; what orjson refuses (an integer beyond 64 bits, a lone surrogate, a non-finite Decimal)
    goes to ``json`` too, so the errors are json's as before."""
    if fastjson.built_of(obj, _LEAVES):
        try:
            return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: json's answer, below
            pass
    return _ENCODER.encode(obj).encode("utf-8")


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME  # datetimes through _default
# Written alike by both: natively (str, int, bool, None, UUID) or through _default (the others).
# Exact types only: subclasses (str enums, IntEnum, bool is its own type) and floats go to json.
_LEAVES = frozenset({str, int, bool, type(None), Decimal, datetime, date, UUID})


def load_json(data: bytes) -> Any:
    """Parse JSON written by :func:`canonical_json` (Decimals come back as strings); by orjson where it
    reads the same (every read of a stream decodes each of its events): :func:`cbec.fastjson.loads`."""
    return fastjson.loads(data)
