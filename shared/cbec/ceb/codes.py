"""Receipt status codes (ceb-formats §4) and customs error codes (spec ch. 7), with their meaning.

The tables come from the official (``official/``) CSVs (``codes_table.py``, generated). Where the CSV and
the XSD annotations list different statuses for a receipt, both are accepted (§4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from cbec.ceb.codes_table import ERROR_CODES, RETURN_STATUS

Outcome = Literal["pending", "resend", "rejected", "accepted", "concluded", "held", "released", "returned", "closed"]

_OUTCOMES: dict[str, Outcome] = {
    "1": "pending", "2": "pending", "3": "pending", "300": "pending", "500": "pending",
    "4": "resend",
    "100": "rejected",
    "120": "accepted",
    "399": "concluded",
    "501": "held", "502": "held", "503": "held", "505": "held", "599": "held", "600": "held",
    "700": "returned",
    "800": "released",
    "899": "closed",
}  # fmt: skip

# Per-receipt status lists from the XSD annotations (§4), merged with the CSV's.
_XSD_DOC_STATUSES: dict[str, tuple[str, ...]] = {
    "CEB312": ("2", "3", "4", "100", "120", "399"),
    "CEB412": ("2", "3", "4", "100", "120", "399"),
    "CEB512": ("2", "3", "4", "100", "120", "399"),
    "CEB514": ("2", "3", "4", "100", "399"),
    "CEB622": (
        "1",
        "2",
        "3",
        "4",
        "100",
        "120",
        "300",
        "399",
        "800",
        "899",
        "500",
        "501",
        "502",
        "503",
        "599",
        "700",
    ),
    "CEB624": ("1", "2", "3", "4", "100", "120", "399"),
    "CEB626": ("1", "2", "3", "4", "100", "120", "399"),
    "CEB712": ("1", "2", "3", "4", "100", "120", "399"),
}

# The success status that ends a document's life cycle, per receipt type (§4 "terminal?").
_FINAL_SUCCESS: dict[str, frozenset[str]] = {
    "CEB312": frozenset({"120"}), "CEB412": frozenset({"120"}), "CEB512": frozenset({"120"}),
    "CEB514": frozenset({"120", "399"}),
    "CEB622": frozenset({"899"}),
    "CEB624": frozenset({"399"}), "CEB626": frozenset({"399"}), "CEB712": frozenset({"399"}),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    message_zh: str
    message_en: str
    area: str


def outcome(status: str) -> Outcome:
    """What a receipt ``returnStatus`` means for the platform; negative codes are rejections."""
    s = status.strip()
    if s.startswith("-") and s[1:].isdigit():
        return "rejected"
    try:
        return _OUTCOMES[s]
    except KeyError:
        raise ValueError(f"unknown returnStatus {status!r}") from None


def status_meaning(status: str) -> str:
    """The spec's wording (中文) of a returnStatus, or of the error code for negative ones."""
    s = status.strip()
    for code, zh, _en, _receipts in RETURN_STATUS:
        if code == s:
            return zh
    errors = error_codes(s)
    if errors:
        return " / ".join(e.message_zh for e in errors)
    raise ValueError(f"unknown returnStatus {status!r}")


@cache
def receipt_statuses(receipt_type: str) -> frozenset[str]:
    """Statuses a receipt type (``CEB622`` …) may carry: the CSV's and the XSD annotations' union."""
    t = receipt_type.removesuffix("Message")
    from_csv = {code for code, _zh, _en, receipts in RETURN_STATUS if t in receipts}
    return frozenset(from_csv | set(_XSD_DOC_STATUSES.get(t, ())))


def is_final(receipt_type: str, status: str) -> bool:
    """True when no further receipt is expected: rejection, returned/closed, or the type's final success."""
    o = outcome(status)
    if o in ("rejected", "returned", "closed"):
        return True
    return status.strip() in _FINAL_SUCCESS.get(receipt_type.removesuffix("Message"), frozenset({"399"}))


def error_codes(code: str) -> list[ErrorCode]:
    """Every spec row for ``code`` (a list: -621027 and -625022 occur twice in the spec)."""
    return [ErrorCode(*row) for row in ERROR_CODES if row[0] == code]
