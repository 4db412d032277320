"""Public intake commands: what platforms and partners send (JSON on cbec.in.<doc> or HTTP)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cbec.errors import CebError

INTAKE_TOPICS: dict[str, str] = {
    "cbec.in.order": "CEB311",
    "cbec.in.payment": "CEB411",
    "cbec.in.waybill": "CEB511",
    "cbec.in.waybill-status": "CEB513",
    "cbec.in.inventory": "CEB621",
    "cbec.in.cancel": "CEB623",
    "cbec.in.return": "CEB625",
    "cbec.in.entry": "CEB711",
}


@dataclass(frozen=True, slots=True)
class DeclareDocument:
    """Declare (or change) one document.

    JSON: ``{"commandId": "...", "sender": "<10-digit customs code>", "docType": "CEB311",
    "document": {"OrderHead": {...}, "OrderList": [{...}]}}``; field names are the CEB XSD names.
    Optional ``"ebpCode"``: the platform of the clearance (the clearance key is ``ebpCode:orderNo``),
    required for CEB511, whose LogisticsHead does not name it. A CEB513 joins its waybill's clearance
    (its ebpCode is used only when the waybill's clearance is unknown).
    """

    command_id: str
    sender: str
    doc_type: str
    document: dict[str, Any]
    ebp_code: str = ""

    def content_hash(self) -> str:
        """Hash of the business content, so a repeat with the same content is recognised."""
        canonical = json.dumps(self.document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "commandId": self.command_id,
            "sender": self.sender,
            "docType": self.doc_type,
            "document": self.document,
        }
        if self.ebp_code:
            body["ebpCode"] = self.ebp_code
        return json.dumps(body, ensure_ascii=False).encode()


class CommandRejected(ValueError):
    """A command that cannot even be read; carries the findings."""

    def __init__(self, errors: list[CebError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def parse_declare(raw: bytes, *, default_doc_type: str | None = None) -> DeclareDocument:
    """Read a DeclareDocument from JSON bytes, naming every field that is missing or wrong."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandRejected([CebError("CBEC-0001", "$", "JSON", f"not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise CommandRejected([CebError("CBEC-0001", "$", "JSON", "the command must be a JSON object")])
    errors: list[CebError] = []
    for name in ("commandId", "sender"):
        if not isinstance(data.get(name), str) or not data.get(name):
            errors.append(CebError("CBEC-0002", name, "contract", f"{name} is required (a non-empty string)"))
    doc_type = data.get("docType", default_doc_type)
    if not isinstance(doc_type, str):
        errors.append(CebError("CBEC-0002", "docType", "contract", "docType is required"))
    document = data.get("document")
    ebp_code = data.get("ebpCode", "")
    if not isinstance(ebp_code, str):
        errors.append(CebError("CBEC-0002", "ebpCode", "contract", "ebpCode must be a string"))
    if not isinstance(document, dict):
        errors.append(CebError("CBEC-0002", "document", "contract", "document is required (a JSON object)"))
    if errors:
        raise CommandRejected(errors)
    assert isinstance(doc_type, str) and isinstance(document, dict)
    return DeclareDocument(str(data["commandId"]), str(data["sender"]), doc_type, document, str(ebp_code))
