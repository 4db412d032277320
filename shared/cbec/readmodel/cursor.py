"""Opaque page cursors: the position after which the next page starts."""

from __future__ import annotations

import base64
import binascii
import json


class BadCursor(ValueError):
    """A cursor this service did not hand out."""


def encode(created_seq: int) -> str:
    raw = json.dumps({"v": 1, "after": created_seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API handed out") from None
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("after"), int):
        raise BadCursor("cursor is not one this API handed out")
    return int(data["after"])
