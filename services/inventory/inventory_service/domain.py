"""Lists (CEB621), cancels (CEB623) and returns (CEB625).

A list is held until the saga has seen its waybill; a cancel or a return until the saga has seen
its list released (it refuses them when the list's state does not allow them).
"""

from __future__ import annotations

from cbec.declaration.doctypes import CANCEL, INVENTORY, RETURN
from cbec.declaration.lifecycle import Declaration

DOC_TYPES = [INVENTORY, CANCEL, RETURN]
SERVICE = "inventory"

PREREQUISITES: dict[str, list[str]] = {
    INVENTORY.code: ["waybill"],
    CANCEL.code: ["release"],
    RETURN.code: ["release"],
}


def waiting_for(state: Declaration) -> list[str]:
    return list(PREREQUISITES.get(state.doc_type, []))
