"""When a document may be declared again under the same business key, and with which appType.

- Not yet released (received or held): the new content replaces it; customs never saw it (appType 1).
- Released and still awaiting customs' answer: refused (the in-flight code) until the receipt comes.
- Rejected by customs (100 or a negative code): declared again as appType ``CBEC_REDECLARE_APP_TYPE``
  (2 by default; 1 when customs never answered any version).
- Accepted: a change (appType 2), or a delete (appType 3), while the clearance is not locked. A
  lock (the saga's ``LockClearance``: the list is declared) refuses changes to the order, payment and
  waybill (-301011 / -401008 / -504016). A list (621) never changes once accepted (-621011, or
  -621012 once released), nor does a cancel (623).
- Delete (appType 3) before release withdraws the document; nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration
from cbec.errors import CebError

IN_FLIGHT_CODES = {"CEB311": "-301010", "CEB411": "-401007", "CEB511": "-504012", "CEB513": "-505012",
                   "CEB621": "-621004"}  # fmt: skip
LOCKED_CODES = {"CEB311": "-301011", "CEB411": "-401008", "CEB511": "-504016"}
LOCKABLE = frozenset(LOCKED_CODES)
NEVER_CHANGED = frozenset({"CEB621", "CEB623"})
DELETABLE = frozenset({"CEB311", "CEB411", "CEB511", "CEB625"})
LIST_RELEASED = frozenset({800, 899})


@dataclass(frozen=True, slots=True)
class Decision:
    """``app_type`` to declare with, or ``withdraw`` (delete before release), or ``error``."""

    app_type: str = "1"
    withdraw: bool = False
    error: CebError | None = None


def decide(doc_type: DocType, state: Declaration, requested: str, locked: bool, redeclare: str) -> Decision:
    where = f"{doc_type.head or doc_type.node}"
    code = doc_type.code
    delete = requested == "3"
    if code == "CEB623" and requested != "1":
        return Decision(error=CebError("CBEC-2004", f"{where}.appType", "appType",
                                       "a cancel (CEB623) is only ever declared with appType 1"))
    if state.phase in ("new", "refused", "withdrawn") and not state.ever_released:
        if delete:
            return Decision(error=_nothing_to_delete(where))
        return Decision("1")
    if state.phase in ("received", "held") or (state.phase == "signing-failed" and not state.receipts):
        # The current version never reached customs: replace it, keeping the appType it was to go with.
        return Decision(withdraw=True) if delete else Decision(state.app_type or "1")
    if state.awaiting_customs:
        return Decision(error=CebError(
            IN_FLIGHT_CODES.get(code, "CBEC-2001"), f"{where}.{'/'.join(doc_type.key_fields)}",
            "duplicate key",
            "a different document with this business key was already declared and awaits customs' answer",
        ))
    if locked and code in LOCKABLE:
        return Decision(error=CebError(
            LOCKED_CODES[code], f"{where}.appType", "§8.A.21 no change after list declaration",
            f"the clearance's list is declared; this {doc_type.kind} can no longer change",
        ))
    if state.rejected or state.phase in ("withdrawn", "refused"):
        if delete:
            return Decision(error=_nothing_to_delete(where))
        if state.rejected:
            return Decision(redeclare)
        accepted_before = any(r.status >= 120 for r in state.receipts)
        return Decision("2" if accepted_before else "1")
    current = state.current_receipt
    if code in NEVER_CHANGED:
        released = current is not None and current.status in LIST_RELEASED
        return Decision(error=CebError(
            "-621012" if released else "-621011" if code == "CEB621" else "CBEC-2003",
            f"{where}.appType", "no change after acceptance",
            f"the {doc_type.kind} was accepted by customs and can no longer change",
        ))
    if delete:
        if code not in DELETABLE or state.app_type == "3":
            return Decision(error=CebError("CBEC-2004", f"{where}.appType", "appType",
                                           f"a {doc_type.kind} cannot be deleted now"))
        return Decision("3")
    return Decision("1" if state.app_type == "3" else "2")


def _nothing_to_delete(where: str) -> CebError:
    return CebError("CBEC-2005", f"{where}.appType", "appType", "appType 3 deletes a document that does not exist")
