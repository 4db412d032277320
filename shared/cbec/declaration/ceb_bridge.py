"""Render and validate one declaration document through the CEB message core."""

from __future__ import annotations

import uuid
from typing import Any

from cbec.ceb import codec
from cbec.ceb.model import CebMessage
from cbec.declaration.doctypes import DocType
from cbec.errors import CebError


def as_message(
    doc_type: DocType, document: dict[str, Any], base_transfer: dict[str, str] | None
) -> CebMessage:
    return CebMessage(
        type=doc_type.code, docs=[document], guid=str(uuid.uuid4()).upper(), base_transfer=base_transfer
    )


def render(doc_type: DocType, document: dict[str, Any], base_transfer: dict[str, str]) -> bytes:
    """The unsigned CEB message carrying this one document."""
    return codec.build(as_message(doc_type, document, base_transfer))


_PLACEHOLDER_TRANSFER = {
    "copCode": "0000000000",
    "copName": "-",
    "dxpMode": "DXP",
    "dxpId": "DXPENT0000000000",
}


def validate(doc_type: DocType, document: dict[str, Any]) -> list[CebError]:
    """Structural and single-document business rules, as customs would apply them."""
    from cbec.ceb import validation

    msg = as_message(doc_type, document, _PLACEHOLDER_TRANSFER)
    errors = validation.validate_structure(msg)
    if not errors:
        errors = validation.validate_business(msg)
    return [e for e in errors if not e.path.startswith("BaseTransfer")]
