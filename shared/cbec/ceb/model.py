"""The in-memory CEB message: plain dicts keyed by XSD element names, values as XML text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cbec.errors import CebError


@dataclass
class CebMessage:
    """One CEB business message (declaration, receipt or customs-issued).

    ``docs`` holds the repeated business node (``Order``, ``InvtCancel``, ``OrderReturn`` …)
    as dicts: simple children map to ``str``, complex children to a dict, repeated complex
    children (``OrderList`` …) to a list of dicts. Optional fields are simply absent.
    ``signature`` is the serialized ``ds:Signature`` element. ``warnings`` (not compared)
    records what a lenient parse repaired.
    """

    type: str
    docs: list[dict[str, Any]]
    guid: str
    version: str = "1.0"
    base_transfer: dict[str, str] | None = None
    base_subscribe: list[dict[str, str]] = field(default_factory=list)
    extend_message: dict[str, Any] | None = None
    signature: bytes | None = None
    warnings: list[CebError] = field(default_factory=list, compare=False, repr=False)
