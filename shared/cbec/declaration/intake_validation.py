"""Validate one document at intake, before the signer adds ds:Signature (621/623/625/711 need one)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from cbec.ceb import validation
from cbec.declaration.ceb_bridge import as_message
from cbec.declaration.doctypes import DocType
from cbec.errors import CebError

_PLACEHOLDER_TRANSFER = {
    "copCode": "0000000000",
    "copName": "-",
    "dxpMode": "DXP",
    "dxpId": "DXPENT0000000000",
}


def validate(
    doc_type: DocType,
    document: dict[str, Any],
    related: validation.RelatedDocs | None = None,
    *,
    drop_codes: Collection[str] = (),
) -> list[CebError]:
    """Structure, then the business rules; ``drop_codes`` are rules a service applies itself."""
    msg = as_message(doc_type, document, _PLACEHOLDER_TRANSFER)
    errors = validation.validate(msg, related, before_signing=True)
    return [e for e in errors if not e.path.startswith("BaseTransfer") and e.code not in drop_codes]


def validator(*, drop_codes: Collection[str] = ()) -> Callable[[DocType, dict[str, Any]], list[CebError]]:
    """A :data:`cbec.declaration.ports.Validator` leaving out ``drop_codes``."""

    def run(doc_type: DocType, document: dict[str, Any]) -> list[CebError]:
        return validate(doc_type, document, drop_codes=drop_codes)

    return run
