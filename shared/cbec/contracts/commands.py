"""Public intake commands: what platforms and partners send (JSON on ``cbec.in.<doc>`` or HTTP).

:class:`DeclareDocument` on the intake topics (``schemas/commands/declare-*.json``) and
:class:`GoodsLeft` on ``cbec.in.goods-left`` (``schemas/commands/goods-left.json``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, check_schema, finding, text
from cbec.contracts.topics import GOODS_LEFT as GOODS_LEFT_TOPIC
from cbec.contracts.topics import INTAKE_TOPICS
from cbec.errors import CebError
from cbec.intake_limits import DEFAULT_LIMITS, IntakeLimits, LimitBreached, load_json

RECORD_GOODS_LEFT = "RecordGoodsLeft"


@dataclass(frozen=True, slots=True)
class DeclareDocument:
    """Declare (or change) one document.

    JSON: ``{"commandId": "...", "sender": "<10-digit customs code>", "docType": "CEB311",
    "document": {"OrderHead": {...}, "OrderList": [{...}]}}``; field names are the CEB XSD names.
    Optional ``"ebpCode"``: the platform of the clearance (the clearance key is ``ebpCode:orderNo``),
    required for CEB511, whose LogisticsHead does not name it. A CEB513 joins its waybill's clearance
    (its ebpCode is used only when the waybill's clearance is unknown).
    Optional ``"orderNo"`` and ``"ebcCode"``: the order of an export clearance (``E:<ebcCode>:<orderNo>``)
    for an export waybill (CEB505), whose Logistics node names no order (``orderNo`` is required for it;
    ``ebcCode`` when the node leaves its own ``ebcCode`` out).
    Optional ``"strategy"`` (export): the preset the document is declared under (``9710清单`` …, see
    ``cbec.declaration.strategies``); without one the sender's tenant record names the default.
    """

    command_id: str
    sender: str
    doc_type: str
    document: dict[str, Any]
    ebp_code: str = ""
    order_no: str = ""
    ebc_code: str = ""
    strategy: str = ""

    def content_hash(self) -> str:
        """Hash of the business content, so a repeat with the same content is recognised."""
        canonical = json.dumps(self.document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "commandId": self.command_id,
            "sender": self.sender,
            "docType": self.doc_type,
            "document": self.document,
        }
        if self.ebp_code:
            body["ebpCode"] = self.ebp_code
        if self.order_no:
            body["orderNo"] = self.order_no
        if self.ebc_code:
            body["ebcCode"] = self.ebc_code
        if self.strategy:
            body["strategy"] = self.strategy
        return json.dumps(body, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes | str, *, default_doc_type: str | None = None) -> DeclareDocument:
        """Read a command; see :func:`parse_declare`."""
        return parse_declare(raw, default_doc_type=default_doc_type)


class CommandRejected(ContractError):
    """A command that cannot even be read; carries the findings (the consumer dead-letters it)."""


def parse_declare(
    raw: bytes | str, *, default_doc_type: str | None = None, limits: IntakeLimits = DEFAULT_LIMITS
) -> DeclareDocument:
    """Read a DeclareDocument from JSON bytes, naming every field that is missing or wrong.

    The size, depth and character limits (:mod:`cbec.intake_limits`) come first: a message over
    them is rejected before it is parsed."""
    try:
        data = load_json(raw, limits)
    except LimitBreached as bad:
        raise CommandRejected(bad.errors) from None
    if not isinstance(data, dict):
        raise CommandRejected([CebError("CBEC-0001", "$", "JSON", "the message must be a JSON object")])
    return declare_from_object(data, default_doc_type=default_doc_type)


def declare_from_object(data: dict[str, Any], *, default_doc_type: str | None = None) -> DeclareDocument:
    """A DeclareDocument from its parsed JSON object (see :func:`parse_declare`)."""
    errors: list[CebError] = []
    for name in ("commandId", "sender"):
        if not isinstance(data.get(name), str) or not data.get(name):
            errors.append(CebError("CBEC-0002", name, "contract", f"{name} is required (a non-empty string)"))
    doc_type = data.get("docType", default_doc_type)
    if not isinstance(doc_type, str):
        errors.append(CebError("CBEC-0002", "docType", "contract", "docType is required"))
    document = data.get("document")
    envelope = {name: data.get(name, "") for name in ("ebpCode", "orderNo", "ebcCode", "strategy")}
    for name, value in envelope.items():
        if not isinstance(value, str):
            errors.append(CebError("CBEC-0002", name, "contract", f"{name} must be a string"))
    if not isinstance(document, dict):
        errors.append(CebError("CBEC-0002", "document", "contract", "document is required (a JSON object)"))
    if errors:
        raise CommandRejected(errors)
    assert isinstance(doc_type, str) and isinstance(document, dict)
    return DeclareDocument(str(data["commandId"]), str(data["sender"]), doc_type, document,
                           str(envelope["ebpCode"]), str(envelope["orderNo"]), str(envelope["ebcCode"]),
                           str(envelope["strategy"]))


@dataclass(frozen=True, slots=True)
class GoodsLeft(JsonMessage):
    """The fact that a clearance's goods left the bonded zone or supervision site.

    JSON on ``cbec.in.goods-left`` (key = clearance key)::

        {"command": "RecordGoodsLeft", "clearanceKey": "<ebpCode>:<orderNo>", "commandId": "...",
         "at": "2026-01-01T00:00:00+00:00"}
    """

    clearance_key: str
    command_id: str
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"command": RECORD_GOODS_LEFT, "clearanceKey": self.clearance_key, "commandId": self.command_id,
                "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GoodsLeft:
        if data.get("command") != RECORD_GOODS_LEFT:
            raise ContractError([finding("command", f"not a {RECORD_GOODS_LEFT} command")])
        goods = cls(text(data, "clearanceKey"), text(data, "commandId", required=False),
                    text(data, "at", required=False))
        check_schema("commands/goods-left.json", data)
        return goods


__all__ = [
    "GOODS_LEFT_TOPIC",
    "INTAKE_TOPICS",
    "CommandRejected",
    "DeclareDocument",
    "GoodsLeft",
    "declare_from_object",
    "parse_declare",
]
