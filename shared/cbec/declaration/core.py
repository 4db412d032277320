"""The lifecycle engine's core: the owning service's policies, its store, and the writes every use case shares.

:class:`DeclarationCore` is what intake (:mod:`.intake`), the saga's commands (:mod:`.saga_steps`)
and the feedback from signer, link and receipts (:mod:`.feedback`) build on; the service's
application is the three together (:class:`cbec.declaration.application.DeclarationApp`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, TypeVar

from cbec.contracts.events import DocumentReleased, EventData, StreamFields, stream_fields
from cbec.declaration import clearance, numbers
from cbec.declaration import lifecycle as lc
from cbec.declaration.doctypes import DocType
from cbec.declaration.guards import Guard
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import DocumentPolicy
from cbec.declaration.ports import DeclarationStore, Position, Renderer, StreamAppend, Validator
from cbec.declaration.receipt_clock import DEFAULT_MAX_SKEW
from cbec.declaration.statuses import REFUSED_AT_INTAKE
from cbec.errors import CebError
from cbec.intake_limits import DEFAULT_LIMITS, IntakeLimits
from cbec.store.handling import mark_handled, retry_on_conflict
from cbec.tenants import TenantRegistry

Events = list[tuple[str, dict[str, Any]]]
"""Events as the store keeps them: ``(type, data)``."""
T = TypeVar("T")


def stored(events: Sequence[EventData]) -> Events:
    """Typed events in the store's form; the one place the engine's events become dicts."""
    return [(event.TYPE, event.to_dict()) for event in events]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a command: accepted, duplicate or refused (with the first findings, and how
    many more were left out: ``omitted``)."""

    result: str
    stream_id: uuid.UUID | None
    status: str = ""
    errors: list[CebError] = field(default_factory=list)
    omitted: int = 0

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.omitted


class EngineOptions(TypedDict, total=False):
    """The settings the engine takes from the settings tree (a service's ``build`` passes them on)."""

    redeclare_app_type: str  # CBEC_REDECLARE_APP_TYPE
    gate: int  # CBEC_SAGA_GATE
    limits: IntakeLimits  # CBEC_MAX_BODY_BYTES, CBEC_JSON_MAX_DEPTH, CBEC_MAX_FINDINGS
    receipt_max_skew: timedelta  # CBEC_RECEIPT_MAX_SKEW


class DeclarationCore:
    """The documents of one owning service, as its policies describe them.

    ``redeclare_app_type``: a corrected document after a customs rejection goes as a change ("2")
    or afresh ("1"). ``gate``: the e-port progress status (120 or 2) below which a document may be resent.
    """

    def __init__(
        self,
        policies: Sequence[DocumentPolicy],
        store: DeclarationStore,
        tenants: TenantRegistry,
        validate: Validator,
        render: Renderer,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retries: int = 5,
        guards: Sequence[Guard] = (),
        redeclare_app_type: str = "2",
        gate: int = 120,
        limits: IntakeLimits = DEFAULT_LIMITS,
        receipt_max_skew: timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        self.policies: dict[str, DocumentPolicy] = {p.code: p for p in policies}
        self.doc_types: dict[str, DocType] = {p.code: p.doc_type for p in policies}
        self.by_receipt: dict[str, DocType] = {p.doc_type.receipt_code: p.doc_type for p in policies}
        self.by_result: dict[str, DocumentPolicy] = {r: p for p in policies for r in p.results}
        self.store = store
        self.tenants = tenants
        self.validate = validate
        self.render = render
        self.now = now
        self.retries = retries
        self.guards = list(guards)
        self.redeclare_app_type = redeclare_app_type
        self.gate = gate
        self.limits = limits
        self.receipt_max_skew = receipt_max_skew

    # -- queries ---------------------------------------------------------------------------------
    def load(self, doc_type: DocType, stream_id: uuid.UUID) -> Declaration:
        return lc.fold(doc_type.code, self.store.read(stream_id))

    def find(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = self.doc_types[doc_type_code]
        state = self.load(doc_type, doc_type.stream_id(key))
        return state if state.version else None

    def numbered(self, doc_type: DocType, name: str, value: str) -> Declaration | None:
        """The document of ``doc_type`` customs gave ``value`` in receipt field ``name`` (:mod:`.numbers`)."""
        if not value:
            return None
        key = numbers.assigned(self.store.read(numbers.stream_id(doc_type, name, value)))
        if key is None:
            return None
        state = self.load(doc_type, doc_type.stream_id(key))
        return state if state.version else None

    @property
    def locks_clearances(self) -> bool:
        """Some type here stays as it is once its clearance's list is declared (``LockClearance`` applies)."""
        return any(p.locked_code is not None for p in self.policies.values())

    def is_locked(self, clearance_key: str) -> bool:
        stream = self.store.read(clearance.stream_id(clearance_key))
        return any(t == clearance.CLEARANCE_LOCKED for t, _ in stream)

    # -- writing ---------------------------------------------------------------------------------
    def _retry(self, step: Callable[[], T], stream_id: uuid.UUID) -> T:
        """``step`` (which reads afresh) again while another writer wins the race for the stream."""
        return retry_on_conflict(step, self.retries, stream_id)

    def _stream(self, doc_type: DocType, state: Declaration) -> StreamFields:
        """Every event names its document type, its clearance and the stream's links."""
        return stream_fields(doc_type.code, state.clearance_key, state.links)

    def _commit(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        typed: Sequence[EventData],
        position: Position | None,
        extra: Sequence[StreamAppend] = (),
    ) -> None:
        """Append the document's events with the guards' bookkeeping, in one transaction."""
        events = stored(typed)
        appends = [StreamAppend(stream_id, state.version, events), *extra]
        for guard in self.guards:
            appends += guard.on_events(doc_type, stream_id, state, events)
        self.store.append_batch(appends, position)

    def _refused(self, stream_id: uuid.UUID | None, errors: list[CebError]) -> Outcome:
        """A refusal carrying at most ``limits.max_findings`` findings (and the count of the rest)."""
        kept = errors[: self.limits.max_findings]
        return Outcome("refused", stream_id, REFUSED_AT_INTAKE, kept, len(errors) - len(kept))

    def _mark(self, position: Position | None) -> None:
        mark_handled(self.store.record_position, position)

    def _release_event(
        self, doc_type: DocType, stream_id: uuid.UUID, version: int, state: Declaration
    ) -> DocumentReleased:
        assert state.document is not None
        tenant = self.tenants.get(state.sender)
        base_transfer = {
            "copCode": tenant.customs_code,
            "copName": tenant.name,
            "dxpMode": "DXP",
            "dxpId": tenant.dxp_id,
        }
        xml = self.render(doc_type, state.document, base_transfer)
        return DocumentReleased(
            **self._stream(doc_type, state),
            sender=state.sender,
            request_id=f"{doc_type.code}:{stream_id}:{version}",
            app_type=state.app_type,
            xml=base64.b64encode(xml).decode(),
        )

    def _parse_request_id(self, request_id: str) -> tuple[DocType | None, uuid.UUID]:
        code, _, rest = request_id.partition(":")
        stream, _, _ = rest.partition(":")
        doc_type = self.doc_types.get(code)
        try:
            return doc_type, uuid.UUID(stream)
        except ValueError:
            return None, uuid.UUID(int=0)
