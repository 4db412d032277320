"""Customs' results that name a number not yet known here, kept until a receipt assigns it.

A result (a policy's ``results``: CEB792, CEB816, CEB818) may name its document only by the number customs
gave it (``result_number``: sumNo, invtNo), and it travels under another Kafka key than the receipt carrying
that number, so it may arrive first. Such a result is **parked**: ``ResultParked`` (the whole result) on the
number's index stream (:mod:`.numbers`), in the transaction that records the consumer's position. Parking
and numbering append to the same stream at an expected version, so a result never parks after its number
is assigned unnoticed. When a receipt assigns the number, the parked results are recorded on the document's
stream and ``ResultUnparked`` on the index stream, in one transaction (``Feedback.apply_parked``).

The per-type register stream (``parked:<kind>``) lists what is parked and unparked, so a sweep at start-up
and every few minutes finds what a crash between numbering and applying left behind, and reports how many
results wait and for how long (``cbec_results_parked``). Both are bookkeeping that never leaves the service
(``routing.INTERNAL_EVENTS``). Events rather than a table: they commit with the consumer's position through
every store the engine has (in-memory, SQLite, Postgres, a consumer batch) with no migration. The register
grows by two events per parked result and is read whole when one parks or is applied, which is cheap
while parking is the exception (a result overtaking its receipt), as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cbec.contracts.customs import ReceiptReceived
from cbec.declaration.doctypes import STREAM_NAMESPACE, DocType

RESULT_PARKED = "ResultParked"
RESULT_UNPARKED = "ResultUnparked"
EVENTS = frozenset({RESULT_PARKED, RESULT_UNPARKED})

Events = Sequence[tuple[str, dict[str, Any]]]


def register_id(doc_type: DocType) -> uuid.UUID:
    """The stream listing the results of ``doc_type`` parked and unparked: ``parked:<kind>``."""
    return uuid.uuid5(STREAM_NAMESPACE, f"parked:{doc_type.kind}")


@dataclass(frozen=True, slots=True)
class Parked:
    """One result waiting for its number ``value`` (of receipt field ``field``)."""

    field: str
    value: str
    receipt_id: str
    parked_at: str
    result: ReceiptReceived | None = None  # on the index stream; the register holds references only


def parked_event(doc_type: DocType, name: str, value: str, result: ReceiptReceived, at: datetime,
                 with_result: bool) -> tuple[str, dict[str, Any]]:
    """``ResultParked`` for the index stream (``with_result``: the whole result) or the register."""
    data: dict[str, Any] = {"docType": doc_type.code, "field": name, "value": value,
                            "receiptId": result.receipt_id, "parkedAt": at.isoformat()}
    if with_result:
        data["result"] = result.to_dict()
    return RESULT_PARKED, data


def unparked_event(doc_type: DocType, parked: Parked) -> tuple[str, dict[str, Any]]:
    return RESULT_UNPARKED, {"docType": doc_type.code, "field": parked.field, "value": parked.value,
                             "receiptId": parked.receipt_id}


def waiting(events: Events) -> list[Parked]:
    """The results parked on a stream and not unparked since, in the order they were parked."""
    out: dict[tuple[str, str, str], Parked] = {}
    for kind, data in events:
        ref = (str(data.get("field", "")), str(data.get("value", "")), str(data.get("receiptId", "")))
        if kind == RESULT_PARKED and ref not in out:
            raw = data.get("result")
            result = ReceiptReceived.from_dict(raw) if isinstance(raw, dict) else None
            out[ref] = Parked(*ref, parked_at=str(data.get("parkedAt", "")), result=result)
        elif kind == RESULT_UNPARKED:
            out.pop(ref, None)
    return list(out.values())


def ever_parked(events: Events, receipt_id: str) -> bool:
    """Whether a result was parked on this stream before (a redelivery parks nothing twice)."""
    return any(kind == RESULT_PARKED and data.get("receiptId") == receipt_id for kind, data in events)


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a sweep left parked of one type: how many results, how many past the allowed age (``overdue``),
    and the age of the oldest in days."""

    doc_type: str
    count: int
    overdue: int
    oldest_days: float
