"""Which declaration service a feedback message is for, from the shared doc-type table.

Feedback reaches only the service that owns the document (``topics.feedback(service, kind)``):
- a sign outcome, a transmission, a saga command: the owner of its ``doc_type``;
- a receipt: the owner of the type its receipt type answers (``CEB312`` → order). A receipt of no
  declared type's kind (a CEB900 format error, a CEB816 tax bill) names its ``doc_type``: the customs
  link's correlation for a CEB900 whose transmission it knows, else the type its ``oriMessageType``
  names, the tax messages the list. A receipt with no owner either way has nobody to read it: the
  customs link dead-letters it (``cbec.dlq.receipts``), so it is never lost silently;
- a LockClearance: every service owning a type the declared list locks.
"""

from __future__ import annotations

from cbec.contracts import topics
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.dead_letter import DeadLetter
from cbec.declaration.doctypes import (
    BY_CODE,
    BY_RECEIPT,
    COLLECTION,
    EXPORT_ORDER,
    EXPORT_WAYBILL,
    ORDER,
    PAYMENT,
    WAYBILL,
)
from cbec.errors import CebError

NO_OWNER = "CBEC-0092"

LOCKED_BY_CLEARANCE = (ORDER, PAYMENT, WAYBILL, EXPORT_ORDER, COLLECTION, EXPORT_WAYBILL)
"""The types a clearance's declared list locks (their policies' ``locked_code``: -301011/-401008/-504016).
An import clearance (``ebpCode:orderNo``) holds only import types, an export one (``E:…``) only export types."""

LOCK_OWNERS: tuple[str, ...] = tuple(dict.fromkeys(d.service for d in LOCKED_BY_CLEARANCE))
"""The services a LockClearance goes to."""


def owner_of(doc_type: str) -> str | None:
    """The service owning document type ``doc_type`` (None for a code no service declares)."""
    found = BY_CODE.get(doc_type)
    return found.service if found is not None else None


def receipt_owner(receipt: ReceiptReceived) -> str | None:
    """The service a receipt is for (see the module docstring); None when nobody owns it."""
    answered = BY_RECEIPT.get(receipt.receipt_type)
    if answered is not None:
        return answered.service
    return owner_of(receipt.doc_type)


def unowned(service: str, source: str, offset: int, raw: bytes, what: str) -> tuple[str, str, bytes]:
    """``(topic, key, value)`` of the dead letter on ``cbec.dlq.<service>`` for feedback nobody owns."""
    reason = CebError(NO_OWNER, "doc_type", "owner", f"{what}: no declaration service owns it")
    letter = DeadLetter.of(source, offset, [reason], raw)
    return topics.dead_letters(service), letter.key, letter.to_json()
