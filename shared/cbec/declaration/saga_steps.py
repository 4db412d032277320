"""What the saga's commands do to the owning service's documents: release, resend, refuse, lock.

The saga decides (it owns prerequisites and release decisions); these steps only check that the
document is still in a phase the command applies to, and mark the command handled otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from cbec.contracts.events import DocumentRefused, EventData
from cbec.declaration import clearance
from cbec.declaration.core import DeclarationCore
from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.ports import AlreadyProcessed, Position
from cbec.errors import CebError

_PROGRESS = frozenset({1, 2, 3})  # e-port progress: customs has not decided yet
_IN_HAND = frozenset({120, 300, 399})  # accepted, conclusion pending (a type customs answers again)


class SagaSteps(DeclarationCore):
    """The owning service's side of ``cbec.feedback.<service>.saga-commands``."""

    def release(self, doc_type_code: str, key: tuple[str, ...], position: Position | None = None) -> bool:
        """Release a held document (the saga's ReleaseDocument: its prerequisites are met)."""
        return self._saga_step(doc_type_code, key, position, lambda s: s.phase == "held", self._release_step)

    def resend(self, doc_type_code: str, key: tuple[str, ...], position: Position | None = None) -> bool:
        """Release a sent document again under a new requestId (a new release: no request reaches customs
        twice): while customs has not answered it, its last receipt is 4 (sending failed), or it is an
        e-port progress status (1–3) below the gate, e.g. a 2 whose 120 never came; for a type customs
        answers again after accepting (lists, cancels, returns) also while it is accepted but not
        concluded (120, 300, 399), e.g. a list whose 800 was lost: the same document (same guid) reaches
        customs again, which answers with its current status. Never once it is rejected (100, negative,
        CEB900), released or otherwise concluded, nor an accepted order, payment or waybill."""

        def may_resend(doc_type: DocType) -> Callable[[Declaration], bool]:
            def allowed(s: Declaration) -> bool:
                current = s.current_receipt
                return s.phase in ("released", "signed", "sent", "signing-failed") and (
                    current is None
                    or not current.format_error
                    and (current.status == 4 or current.status in _PROGRESS and current.status < self.gate
                         or doc_type.concluded_later and current.status in _IN_HAND)
                )

            return allowed

        doc_type = self.doc_types[doc_type_code]
        return self._saga_step(doc_type_code, key, position, may_resend(doc_type), self._release_step)

    def refuse_document(
        self, doc_type_code: str, key: tuple[str, ...], errors: list[CebError], position: Position | None = None
    ) -> bool:
        """The saga refuses a held document (e.g. a cancel the list's state does not allow)."""

        def step(doc_type: DocType, stream_id: uuid.UUID, state: Declaration) -> list[EventData]:
            return [DocumentRefused(**self._stream(doc_type, state), errors=[e.to_dict() for e in errors],
                                    refuses_document=True)]

        return self._saga_step(doc_type_code, key, position, lambda s: s.phase in ("held", "received"), step)

    def lock_clearance(self, clearance_key: str, position: Position | None = None) -> bool:
        """Record that the clearance's list is declared: the types its policies lock stay as they are."""
        stream_id = clearance.stream_id(clearance_key)

        def attempt() -> bool:
            stream = self.store.read(stream_id)
            if any(t == clearance.CLEARANCE_LOCKED for t, _ in stream):
                self._mark(position)
                return False
            event = (clearance.CLEARANCE_LOCKED, {"clearanceKey": clearance_key})
            try:
                self.store.append(stream_id, len(stream), [event], position)
                return True
            except AlreadyProcessed:
                return False

        return self._retry(attempt, stream_id)

    def _release_step(self, doc_type: DocType, stream_id: uuid.UUID, state: Declaration) -> list[EventData]:
        return [self._release_event(doc_type, stream_id, state.version + 1, state)]

    def _saga_step(
        self,
        doc_type_code: str,
        key: tuple[str, ...],
        position: Position | None,
        allowed: Callable[[Declaration], bool],
        step: Callable[[DocType, uuid.UUID, Declaration], list[EventData]],
    ) -> bool:
        doc_type = self.doc_types[doc_type_code]
        stream_id = doc_type.stream_id(key)

        def attempt() -> bool:
            state = self.load(doc_type, stream_id)
            if state.document is None or not allowed(state):
                self._mark(position)
                return False
            try:
                self._commit(doc_type, stream_id, state, step(doc_type, stream_id, state), position)
                return True
            except AlreadyProcessed:
                return False

        return self._retry(attempt, stream_id)
