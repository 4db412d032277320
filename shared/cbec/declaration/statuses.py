"""Customs receipt codes (returnStatus) and the words the platform shows for them."""

from __future__ import annotations

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

# A CEB900 answers a transmission customs could not read; its returnStatus is a DXP code (0002, 1001 …).
FORMAT_ERROR = "CEB900"


def label(code: int, receipt_type: str = "") -> str:
    """``customs accepted (120)``; negative codes are customs processing errors."""
    if receipt_type == FORMAT_ERROR:
        return f"format error at customs ({code:04d})"
    if code < 0:
        return f"customs error ({code})"
    return f"{LABELS.get(code, 'status')} ({code})"


def is_rejection(code: int, receipt_type: str = "") -> bool:
    return receipt_type == FORMAT_ERROR or code in REJECTED or code < 0
