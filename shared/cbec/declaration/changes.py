"""When a document may be declared again under the same business key, and with which appType.

- Not yet released (received or held): the new content replaces it; customs never saw it (appType 1).
- Released and still awaiting customs' answer: refused (the policy's in-flight code) until the receipt comes.
- Rejected by customs (100 or a negative code): declared again as appType ``redeclare_app_type``
  (2 by default; 1 when customs never answered any version).
- Accepted: a change (appType 2), or a delete (appType 3) where the policy allows it, while the
  clearance is not locked. A lock (the saga's ``LockClearance``: the list is declared) refuses
  changes to a type with a ``locked_code``. A type with a ``no_change_code`` never changes once accepted.
- Delete (appType 3) before release withdraws the document; nothing is sent.
- A type with a ``stale_code`` refuses a version whose appTime is earlier than the stored version's
  (customs ignores an older message: -301014 …); a version leaving appTime out gets the time of intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import DocumentPolicy
from cbec.errors import CebError

RELEASED_STATUSES = frozenset({800, 899})  # released or closed: "no change" names the release


@dataclass(frozen=True, slots=True)
class Decision:
    """``app_type`` to declare with, or ``withdraw`` (delete before release), or ``error``."""

    app_type: str = "1"
    withdraw: bool = False
    error: CebError | None = None


def decide(policy: DocumentPolicy, state: Declaration, requested: str, locked: bool, redeclare: str) -> Decision:
    doc_type = policy.doc_type
    where = policy.where
    delete = requested == "3"
    if policy.new_only and requested != "1":
        return Decision(error=CebError("CBEC-2004", f"{where}.appType", "appType",
                                       f"a {doc_type.kind} ({doc_type.code}) is only ever declared with appType 1"))
    if state.phase in ("new", "refused", "withdrawn") and not state.ever_released:
        if delete:
            return Decision(error=_nothing_to_delete(where))
        return Decision("1")
    if state.phase in ("received", "held") or (state.phase == "signing-failed" and not state.receipts):
        # The current version never reached customs: replace it, keeping the appType it was to go with.
        return Decision(withdraw=True) if delete else Decision(state.app_type or "1")
    if state.awaiting_customs:
        return Decision(error=CebError(
            policy.in_flight_code, f"{where}.{'/'.join(doc_type.key_fields)}",
            "duplicate key",
            "a different document with this business key was already declared and awaits customs' answer",
        ))
    if locked and policy.locked_code is not None:
        return Decision(error=CebError(
            policy.locked_code, f"{where}.appType", "§8.A.21 no change after list declaration",
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
    if policy.no_change_code is not None:
        released = current is not None and current.status in RELEASED_STATUSES
        return Decision(error=CebError(
            (policy.no_change_released_code or policy.no_change_code) if released else policy.no_change_code,
            f"{where}.appType", "no change after acceptance",
            f"the {doc_type.kind} was accepted by customs and can no longer change",
        ))
    if delete:
        if not policy.deletable or state.app_type == "3":
            return Decision(error=CebError("CBEC-2004", f"{where}.appType", "appType",
                                           f"a {doc_type.kind} cannot be deleted now"))
        return Decision("3")
    return Decision("1" if state.app_type == "3" else "2")


def stale(policy: DocumentPolicy, state: Declaration, document: dict[str, Any]) -> CebError | None:
    """The refusal of a version dated (appTime) before the version stored, for a type with a ``stale_code``."""
    if policy.stale_code is None or state.document is None or not state.ever_released:
        return None
    new, old = policy.head(document).get("appTime"), policy.head(state.document).get("appTime")
    if not (isinstance(new, str) and isinstance(old, str) and new.isdigit() and old.isdigit()):
        return None
    if len(new) != len(old) or new >= old:
        return None
    return CebError(policy.stale_code, f"{policy.where}.appTime", "§8.A.23 appTime increases on changes",
                    f"appTime {new} is earlier than the stored version's {old}; customs ignores an older message")


def _nothing_to_delete(where: str) -> CebError:
    return CebError("CBEC-2005", f"{where}.appType", "appType", "appType 3 deletes a document that does not exist")
