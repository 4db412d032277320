"""Waybills (CEB511), waybill statuses (CEB513) and site entry lists (CEB711).

A waybill is held until the saga has seen its order and payment; an entry list until the lists of
its waybills are declared. A waybill status goes at once (its waybill is already known here).
"""

from __future__ import annotations

from cbec.declaration.doctypes import ENTRY, WAYBILL, WAYBILL_STATUS
from cbec.declaration.lifecycle import Declaration

DOC_TYPES = [WAYBILL, WAYBILL_STATUS, ENTRY]
SERVICE = "logistics"

PREREQUISITES: dict[str, list[str]] = {
    WAYBILL.code: ["order", "payment"],
    ENTRY.code: ["lists"],
}


def waiting_for(state: Declaration) -> list[str]:
    return list(PREREQUISITES.get(state.doc_type, []))
