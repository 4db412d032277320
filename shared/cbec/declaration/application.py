"""Command and message handlers shared by the owning services (order, payment, logistics, inventory)."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.declaration import changes, clearance, statuses, tenancy
from cbec.declaration import lifecycle as lc
from cbec.declaration.doctypes import ENTRY, WAYBILL, WAYBILL_STATUS, DocType
from cbec.declaration.guards import Guard
from cbec.declaration.lifecycle import Declaration, Receipt
from cbec.declaration.ports import (
    AlreadyProcessed,
    DeclarationStore,
    Position,
    Renderer,
    StreamAppend,
    Validator,
    VersionConflict,
)
from cbec.errors import CebError
from cbec.tenants import TenantRegistry

log = logging.getLogger(__name__)

CST = timezone(timedelta(hours=8))

SENDER_ROLES = tenancy.SENDER_ROLES

Events = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a command: accepted, duplicate or refused (with every error)."""

    result: str
    stream_id: uuid.UUID | None
    status: str = ""
    errors: list[CebError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Identity:
    """Where a document belongs: its clearance(s) and the links every event of its stream carries."""

    clearance_key: str
    links: dict[str, Any]
    errors: list[CebError]


_PROGRESS = frozenset({1, 2, 3})  # e-port progress: customs has not decided yet


def no_prerequisites(state: Declaration) -> list[str]:
    return []


class DeclarationApp:
    """The owning service of one or more document types."""

    def __init__(
        self,
        doc_types: list[DocType],
        store: DeclarationStore,
        tenants: TenantRegistry,
        validate: Validator,
        render: Renderer,
        *,
        waiting_for: Callable[[Declaration], list[str]] = no_prerequisites,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retries: int = 5,
        guards: Sequence[Guard] = (),
        redeclare_app_type: str = "2",
        gate: int = 120,
    ) -> None:
        self.doc_types = {d.code: d for d in doc_types}
        self.by_receipt = {d.receipt_code: d for d in doc_types}
        self.store = store
        self.tenants = tenants
        self.validate = validate
        self.render = render
        self.waiting_for = waiting_for
        self.now = now
        self.retries = retries
        self.guards = list(guards)
        self.redeclare_app_type = redeclare_app_type
        self.gate = gate

    # -- queries ---------------------------------------------------------------------------------
    def load(self, doc_type: DocType, stream_id: uuid.UUID) -> Declaration:
        return lc.fold(doc_type.code, self.store.read(stream_id))

    def find(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = self.doc_types[doc_type_code]
        state = self.load(doc_type, doc_type.stream_id(key))
        return state if state.version else None

    def is_locked(self, clearance_key: str) -> bool:
        stream = self.store.read(clearance.stream_id(clearance_key))
        return any(t == clearance.CLEARANCE_LOCKED for t, _ in stream)

    # -- intake ----------------------------------------------------------------------------------
    def declare(self, command: DeclareDocument, position: Position | None = None) -> Outcome:
        """Validate a document and store it; release it for signing when nothing holds it.

        A repeat (same commandId, or the same content under the key) returns the stored outcome and
        appends nothing; different content under the key is a change (see :mod:`changes`).
        """
        doc_type = self.doc_types.get(command.doc_type)
        if doc_type is None:
            return self._refuse_unkeyed(
                position,
                CebError(
                    "CBEC-0003",
                    "docType",
                    "routing",
                    f"{command.doc_type} is not handled here (handles {', '.join(self.doc_types)})",
                ),
            )
        key = (
            doc_type.business_key(command.document)
            if isinstance(command.document.get(doc_type.head or ""), dict) or doc_type.head is None
            else ()
        )
        if not key or not all(key):
            missing = [
                f
                for f, v in zip(doc_type.key_fields, key or ("",) * len(doc_type.key_fields), strict=True)
                if not v
            ]
            errors = tenancy.check_sender(self.tenants, command.sender, doc_type)
            errors.append(
                CebError(
                    "CBEC-0004",
                    f"{doc_type.head or doc_type.node}.{'/'.join(missing)}",
                    "identity",
                    "the business key fields are required",
                )
            )
            return self._refuse_unkeyed(position, *errors)
        stream_id = doc_type.stream_id(key)
        for _ in range(self.retries):
            state = self.load(doc_type, stream_id)
            try:
                return self._declare(command, doc_type, key, stream_id, state, position)
            except VersionConflict:
                continue
            except AlreadyProcessed:
                return Outcome("duplicate", stream_id, self.load(doc_type, stream_id).status)
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    def _declare(
        self,
        command: DeclareDocument,
        doc_type: DocType,
        key: tuple[str, ...],
        stream_id: uuid.UUID,
        state: Declaration,
        position: Position | None,
    ) -> Outcome:
        ref = lc.command_ref(command.sender, command.command_id)
        if ref in state.commands:
            self._mark(position)
            earlier = [CebError(**e) for e in state.commands[ref]]
            return Outcome("duplicate", stream_id, state.status, earlier)
        content_hash = command.content_hash()
        if (
            state.phase not in ("new", "refused", "withdrawn")
            and state.content_hash == content_hash
            and state.sender == command.sender
        ):
            self._mark(position)
            return Outcome("duplicate", stream_id, state.status)
        identity = self._identity(doc_type, command, key)
        errors = self._authorise(command, doc_type) + identity.errors
        if errors:
            return self._refuse(doc_type, stream_id, state, command, errors, position, identity)
        locked = doc_type.code in changes.LOCKABLE and any(
            self.is_locked(k) for k in {identity.clearance_key, state.clearance_key} if k
        )
        requested = str(doc_type.head_of(command.document).get("appType", "1"))
        decision = changes.decide(doc_type, state, requested, locked, self.redeclare_app_type)
        if decision.error is not None:
            return self._refuse(doc_type, stream_id, state, command, [decision.error], position, identity)
        if decision.withdraw:
            withdrawn: Events = [
                (lc.WITHDRAWN, self._data(doc_type, state, commandId=command.command_id, sender=command.sender))
            ]
            self._commit(doc_type, stream_id, state, withdrawn, position)
            return Outcome("accepted", stream_id, "withdrawn")
        document = self._complete(doc_type, command.document, decision.app_type)
        errors = self.validate(doc_type, document)
        extra: list[StreamAppend] = []
        if not errors:
            for guard in self.guards:
                verdict = guard.on_intake(doc_type, stream_id, state, document)
                errors += verdict.errors
                extra += verdict.appends
        if errors:
            return self._refuse(doc_type, stream_id, state, command, errors, position, identity)
        received = {
            "docType": doc_type.code,
            "clearanceKey": identity.clearance_key,
            **identity.links,
            "sender": command.sender,
            "commandId": command.command_id,
            "contentHash": content_hash,
            "appType": decision.app_type,
            "links": identity.links,
            "document": document,
        }
        probe = state.copy()
        probe.apply(lc.RECEIVED, received)
        events: Events = [(lc.RECEIVED, received)]
        waiting = [] if decision.app_type == "3" else self.waiting_for(probe)
        if waiting:
            events.append((lc.HELD, self._data(doc_type, probe, waitingFor=waiting)))
        else:
            events.append(self._release_event(doc_type, stream_id, state.version + 2, probe))
        self._commit(doc_type, stream_id, state, events, position, extra)
        probe.apply(*events[-1])
        return Outcome("accepted", stream_id, probe.status)

    # -- saga commands ---------------------------------------------------------------------------
    def release(self, doc_type_code: str, key: tuple[str, ...], position: Position | None = None) -> bool:
        """Release a held document (the saga's ReleaseDocument: its prerequisites are met)."""
        return self._saga_step(doc_type_code, key, position, lambda s: s.phase == "held", self._release_step)

    def resend(self, doc_type_code: str, key: tuple[str, ...], position: Position | None = None) -> bool:
        """Release a sent document again under a new requestId (a new release: no request reaches customs
        twice): while customs has not answered it, its last receipt is 4 (sending failed), or it is an
        e-port progress status (1–3) below the gate, e.g. a 2 whose 120 never came. Never once it is
        rejected (100, negative, CEB900), accepted or released."""

        def may_resend(s: Declaration) -> bool:
            current = s.current_receipt
            return s.phase in ("released", "signed", "sent", "signing-failed") and (
                current is None
                or not current.format_error
                and (current.status == 4 or current.status in _PROGRESS and current.status < self.gate)
            )

        return self._saga_step(doc_type_code, key, position, may_resend, self._release_step)

    def refuse_document(
        self, doc_type_code: str, key: tuple[str, ...], errors: list[CebError], position: Position | None = None
    ) -> bool:
        """The saga refuses a held document (e.g. a cancel the list's state does not allow)."""

        def step(doc_type: DocType, stream_id: uuid.UUID, state: Declaration) -> Events:
            data = self._data(doc_type, state, errors=[e.to_dict() for e in errors], refusesDocument=True)
            return [(lc.REFUSED, data)]

        return self._saga_step(doc_type_code, key, position, lambda s: s.phase in ("held", "received"), step)

    def lock_clearance(self, clearance_key: str, position: Position | None = None) -> bool:
        """Record that the clearance's list is declared: its order, payment and waybill stay as they are."""
        stream_id = clearance.stream_id(clearance_key)
        for _ in range(self.retries):
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
            except VersionConflict:
                continue
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    def _release_step(self, doc_type: DocType, stream_id: uuid.UUID, state: Declaration) -> Events:
        return [self._release_event(doc_type, stream_id, state.version + 1, state)]

    def _saga_step(
        self,
        doc_type_code: str,
        key: tuple[str, ...],
        position: Position | None,
        allowed: Callable[[Declaration], bool],
        step: Callable[[DocType, uuid.UUID, Declaration], Events],
    ) -> bool:
        doc_type = self.doc_types[doc_type_code]
        stream_id = doc_type.stream_id(key)
        for _ in range(self.retries):
            state = self.load(doc_type, stream_id)
            if state.document is None or not allowed(state):
                self._mark(position)
                return False
            try:
                self._commit(doc_type, stream_id, state, step(doc_type, stream_id, state), position)
                return True
            except AlreadyProcessed:
                return False
            except VersionConflict:
                continue
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    # -- downstream messages ------------------------------------------------------------------------
    def record_signed(
        self, request_id: str, ok: bool, error: dict[str, str] | None, position: Position | None = None
    ) -> bool:
        found = self._current_release(request_id, ("released",), position)
        if found is None:
            return False
        doc_type, stream_id, state = found
        if ok:
            event = (lc.SIGNED, self._data(doc_type, state, requestId=request_id))
        else:
            event = (lc.SIGNING_FAILED, self._data(doc_type, state, requestId=request_id, error=error or {}))
        return self._append_once(stream_id, state, [event], position)

    def record_sent(self, sent: DocumentTransmitted, position: Position | None = None) -> bool:
        found = self._current_release(sent.request_id, ("released", "signed"), position)
        if found is None:
            return False
        doc_type, stream_id, state = found
        event = (
            lc.SENT,
            self._data(
                doc_type,
                state,
                requestId=sent.request_id,
                fileName=sent.file_name,
                copMsgId=sent.cop_msg_id,
                sentAt=sent.sent_at,
            ),
        )
        return self._append_once(stream_id, state, [event], position)

    def _current_release(
        self, request_id: str, phases: tuple[str, ...], position: Position | None
    ) -> tuple[DocType, uuid.UUID, Declaration] | None:
        """The document a signer or transmission answer is about, if that answer is for its current release
        and the document is in one of ``phases``; else the message is marked handled and ``None``."""
        doc_type, stream_id = self._parse_request_id(request_id)
        if doc_type is None:
            return None
        state = self.load(doc_type, stream_id)
        if state.release_request_id != request_id or state.phase not in phases:
            self._mark(position)
            return None
        return doc_type, stream_id, state

    def record_receipt(self, receipt: ReceiptReceived, position: Position | None = None) -> bool:
        """Keep every receipt once; duplicates and late arrivals are tolerated.

        A receipt of the type's own kind finds its stream by business key; a CEB900 (format error) by
        the requestId of the transmission it answers, and only while that is the document's current release.
        """
        request_id = ""
        if receipt.receipt_type == statuses.FORMAT_ERROR:
            request_id = str(receipt.node.get("requestId", ""))
            doc_type, stream_id = self._parse_request_id(request_id)
            if doc_type is None or doc_type.code != receipt.doc_type:
                return False
        else:
            doc_type = self.by_receipt.get(receipt.receipt_type)
            if doc_type is None:
                return False
            stream_id = doc_type.stream_id(tuple(receipt.business_key))
        r = Receipt(receipt.receipt_type, receipt.return_status, receipt.return_time, receipt.return_info)
        for _ in range(self.retries):
            state = self.load(doc_type, stream_id)
            stale = bool(request_id) and state.release_request_id != request_id
            if not state.version or state.has_receipt(r) or stale:
                if not state.version:
                    log.warning("receipt %s for an unknown %s document", receipt.receipt_id, doc_type.code)
                elif stale:
                    log.info("format error %s answers an earlier release of a %s", receipt.receipt_id,
                             doc_type.code)
                self._mark(position)
                return False
            event = (
                lc.RECEIPT_RECORDED,
                self._data(
                    doc_type,
                    state,
                    receiptId=receipt.receipt_id,
                    receiptType=receipt.receipt_type,
                    returnStatus=receipt.return_status,
                    returnTime=receipt.return_time,
                    returnInfo=receipt.return_info,
                ),
            )
            try:
                self._commit(doc_type, stream_id, state, [event], position)
                return True
            except AlreadyProcessed:
                return False
            except VersionConflict:
                continue
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    # -- helpers ------------------------------------------------------------------------------------
    def _data(self, doc_type: DocType, state: Declaration, **fields: Any) -> dict[str, Any]:
        """Every event names its document type, its clearance and the stream's links."""
        return {"docType": doc_type.code, "clearanceKey": state.clearance_key, **state.links, **fields}

    def _commit(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        events: Events,
        position: Position | None,
        extra: Sequence[StreamAppend] = (),
    ) -> None:
        """Append the document's events with the guards' bookkeeping, in one transaction."""
        appends = [StreamAppend(stream_id, state.version, events), *extra]
        for guard in self.guards:
            appends += guard.on_events(doc_type, stream_id, state, events)
        self.store.append_batch(appends, position)

    def _append_once(
        self,
        stream_id: uuid.UUID,
        state: Declaration,
        events: Events,
        position: Position | None,
    ) -> bool:
        try:
            self.store.append(stream_id, state.version, events, position)
            return True
        except AlreadyProcessed:
            return False

    def _mark(self, position: Position | None) -> None:
        if position is not None:
            try:
                self.store.record_position(position)
            except AlreadyProcessed:
                pass

    def _refuse_unkeyed(self, position: Position | None, *errors: CebError) -> Outcome:
        self._mark(position)
        return Outcome("refused", None, "refused at intake", list(errors))

    def _refuse(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        command: DeclareDocument,
        errors: list[CebError],
        position: Position | None,
        identity: _Identity,
    ) -> Outcome:
        data = self._data(doc_type, state, commandId=command.command_id, sender=command.sender,
                          errors=[e.to_dict() for e in errors])
        if not state.clearance_key:
            data.update(identity.links, clearanceKey=identity.clearance_key)
        try:
            self.store.append(stream_id, state.version, [(lc.REFUSED, data)], position)
        except AlreadyProcessed:
            pass
        return Outcome("refused", stream_id, "refused at intake", errors)

    def _authorise(self, command: DeclareDocument, doc_type: DocType) -> list[CebError]:
        errors = tenancy.check_sender(self.tenants, command.sender, doc_type)
        if errors:
            return errors
        tenant = self.tenants.get(command.sender)
        return tenancy.check_codes(tenant, doc_type, command.document) + tenancy.check_distinct_parties(
            doc_type, command.document, command.ebp_code
        )

    def _identity(self, doc_type: DocType, command: DeclareDocument, key: tuple[str, ...]) -> _Identity:
        """The clearance key (``ebpCode:orderNo``) and links of a document.

        Payments and lists name their platform; a waybill does not, so its command carries ``ebpCode``;
        a waybill status takes its waybill's clearance; an entry list spans the clearances of the
        waybills it lists (``clearanceKeys``, with their ``logisticsNos``).
        """
        head = doc_type.head_of(command.document)
        links: dict[str, Any] = {"businessKey": list(key)}
        errors: list[CebError] = []
        if doc_type.code == WAYBILL.code:
            if not command.ebp_code:
                errors.append(CebError("CBEC-0002", "ebpCode", "contract",
                                       "a waybill command names the platform of its clearance (ebpCode)"))
            return _Identity(f"{command.ebp_code}:{head.get('orderNo', '')}", links, errors)
        if doc_type.code == WAYBILL_STATUS.code:
            bill = self._waybill(str(head.get("logisticsCode", "")), str(head.get("logisticsNo", "")))
            if bill is not None and bill.clearance_key:
                return _Identity(bill.clearance_key, links, errors)
            if command.ebp_code and bill is not None and bill.document is not None:
                order_no = WAYBILL.head_of(bill.document).get("orderNo", "")
                return _Identity(f"{command.ebp_code}:{order_no}", links, errors)
            errors.append(CebError("CBEC-2010", "LogisticsStatus.logisticsNo", "waybill status",
                                   f"no waybill {head.get('logisticsNo', '')} was declared here"))
            return _Identity(f"{command.ebp_code}:", links, errors)
        if doc_type.code == ENTRY.code:
            lines = command.document.get(ENTRY.lines or "", [])
            numbers = [str(x.get("logisticsNo", "")) for x in lines if isinstance(x, dict)]
            keys: list[str] = []
            for number in numbers:
                bill = self._waybill(str(head.get("logisticsCode", "")), number)
                if bill is not None and bill.clearance_key and bill.clearance_key not in keys:
                    keys.append(bill.clearance_key)
            links.update(clearanceKeys=keys, logisticsNos=numbers)
            return _Identity(":".join(key), links, errors)
        ebp, order_no = head.get("ebpCode", ""), head.get("orderNo", "")
        return _Identity(f"{ebp}:{order_no}" if ebp and order_no else ":".join(key), links, errors)

    def _waybill(self, logistics_code: str, logistics_no: str) -> Declaration | None:
        """The waybill read model: the logistics service owns waybills, so it reads their streams."""
        if WAYBILL.code not in self.doc_types or not logistics_code or not logistics_no:
            return None
        state = self.load(WAYBILL, WAYBILL.stream_id((logistics_code, logistics_no)))
        return state if state.version and state.document is not None else None

    def _complete(self, doc_type: DocType, document: dict[str, Any], app_type: str) -> dict[str, Any]:
        """Fill the head fields the platform owns: appType as decided, guid/appTime/appStatus if left out."""
        # Only the head changes: copy it and share the rest (event data is never mutated).
        document = dict(document)
        if doc_type.head:
            head = document[doc_type.head] = dict(document[doc_type.head])
        else:
            head = document
        head["appType"] = app_type
        head.setdefault("guid", str(uuid.uuid4()).upper())
        head.setdefault("appTime", self.now().astimezone(CST).strftime("%Y%m%d%H%M%S"))
        head.setdefault("appStatus", "2")
        return document

    def _release_event(
        self, doc_type: DocType, stream_id: uuid.UUID, version: int, state: Declaration
    ) -> tuple[str, dict[str, Any]]:
        assert state.document is not None
        tenant = self.tenants.get(state.sender)
        base_transfer = {
            "copCode": tenant.customs_code,
            "copName": tenant.name,
            "dxpMode": "DXP",
            "dxpId": tenant.dxp_id,
        }
        xml = self.render(doc_type, state.document, base_transfer)
        return (
            lc.RELEASED,
            self._data(
                doc_type,
                state,
                sender=state.sender,
                requestId=f"{doc_type.code}:{stream_id}:{version}",
                appType=state.app_type,
                xml=base64.b64encode(xml).decode(),
            ),
        )

    def _parse_request_id(self, request_id: str) -> tuple[DocType | None, uuid.UUID]:
        code, _, rest = request_id.partition(":")
        stream, _, _ = rest.partition(":")
        doc_type = self.doc_types.get(code)
        try:
            return doc_type, uuid.UUID(stream)
        except ValueError:
            return None, uuid.UUID(int=0)
