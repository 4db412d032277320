"""The platform's one status vocabulary: what a document reads as, wherever it is shown.

The owning services' HTTP APIs and read models, the saga's clearance view and its ``cbec.out.status``
messages all word a document's status with :func:`document_status`, so one document reads the same
everywhere. A document customs answered reads as its current receipt (:func:`current`: the latest
``returnTime``); before that, as its lifecycle phase. A held document reads ``held``: what it waits
for is the saga's to say (:func:`waiting_reason`), since the saga alone decides its release.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

LABELS: dict[int, str] = {
    1: "saved at e-port",
    2: "declaring at e-port",
    3: "sent to customs",
    4: "sending to customs failed",
    100: "rejected by customs",
    120: "customs accepted",
    300: "manual review",
    399: "customs concluded",
    500: "inspection",
    501: "detained (clearance)",
    502: "detained (anti-smuggling)",
    503: "detained (legal)",
    505: "handed over",
    599: "detained (other)",
    600: "suspended",
    700: "returned abroad",
    800: "released",
    899: "closed",
}

REJECTED = frozenset({100})
ACCEPTED = 120

# Customs' "this key is already declared" codes (ceb-formats §4.1). Answering a resend, they mean the
# original transmission reached customs (its receipt was lost): the document was accepted earlier.
DUPLICATE_KEY = frozenset({
    -301010,  # order: the same order number exists
    -401007, -401008,  # payment: duplicate / already declared
    -504012, -504015, -504016,  # waybill: exists / duplicate / already declared
    -505012,  # waybill status exists
    -621004,  # list already declared
    -623009,  # cancel already declared
    -800003,  # entry list already exists
})

# A CEB900 answers a transmission customs could not read; its returnStatus is a DXP code (0002, 1001 …).
FORMAT_ERROR = "CEB900"

# Lifecycle phases and how a document in each reads before customs answers.
PHASE_WORDS: dict[str, str] = {
    "new": "not declared",
    "received": "received",
    "held": "held",
    "refused": "refused",
    "withdrawn": "withdrawn",
    "released": "released",
    "signed": "signed",
    "signing-failed": "signing failed",
    "sent": "sent to customs",
}
HELD = PHASE_WORDS["held"]
NOT_DECLARED = PHASE_WORDS["new"]
REFUSED_AT_INTAKE = "refused at intake"  # a refused command's outcome (the command, not a document)
AWAITING_RELEASE = "release"  # what a held document's own service says it waits for: the saga's release


class _Timed(Protocol):
    @property
    def time(self) -> str: ...


R = TypeVar("R", bound=_Timed)


def current(receipts: Sequence[R]) -> R | None:
    """The current receipt: the latest ``returnTime``, whatever order they arrived in (ties: the last)."""
    if not receipts:
        return None
    return receipts[max(range(len(receipts)), key=lambda i: (receipts[i].time, i))]


def label(code: int, receipt_type: str = "") -> str:
    """``customs accepted (120)``; negative codes are customs processing errors."""
    if receipt_type == FORMAT_ERROR:
        return f"format error at customs ({code:04d})"
    if code < 0:
        return f"customs error ({code})"
    return f"{LABELS.get(code, 'status')} ({code})"


def document_status(phase: str, receipt_code: int | None = None, receipt_type: str = "") -> str:
    """What a document reads as: its current receipt's label if customs answered, else its phase."""
    if receipt_code is not None:
        return label(receipt_code, receipt_type)
    return PHASE_WORDS.get(phase, phase)


def waiting_reason(waiting: Sequence[str]) -> str:
    """Why a held document waits (the saga's words): ``waiting for order and payment``."""
    return "waiting for " + " and ".join(waiting) if waiting else ""


def is_duplicate_key(code: int, receipt_type: str = "") -> bool:
    return receipt_type != FORMAT_ERROR and code in DUPLICATE_KEY


def accepted_earlier(code: int) -> str:
    """The status of a resent document customs answered with a duplicate-key code."""
    return f"accepted earlier ({code})"


def is_rejection(code: int, receipt_type: str = "") -> bool:
    return receipt_type == FORMAT_ERROR or code in REJECTED or code < 0
