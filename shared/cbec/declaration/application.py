"""Command and message handlers shared by the owning services (order, payment, logistics, inventory)."""

from __future__ import annotations

import base64
import copy
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.declaration import lifecycle as lc
from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration, Receipt
from cbec.declaration.ports import (
    AlreadyProcessed,
    DeclarationStore,
    Position,
    Renderer,
    Validator,
    VersionConflict,
)
from cbec.errors import CebError
from cbec.tenants import Role, TenantRegistry

log = logging.getLogger(__name__)

CST = timezone(timedelta(hours=8))

# Which roles may send each document type (ceb-formats §2, sender table).
SENDER_ROLES: dict[str, frozenset[Role]] = {
    "CEB311": frozenset({Role.PLATFORM, Role.ECOMMERCE}),
    "CEB411": frozenset({Role.PAYMENT}),
    "CEB511": frozenset({Role.LOGISTICS}),
    "CEB513": frozenset({Role.LOGISTICS}),
    "CEB621": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB623": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB625": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB711": frozenset({Role.SITE_OPERATOR}),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a command: accepted, duplicate or refused (with every error)."""

    result: str
    stream_id: uuid.UUID | None
    status: str = ""
    errors: list[CebError] = field(default_factory=list)


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

    # -- queries ---------------------------------------------------------------------------------
    def load(self, doc_type: DocType, stream_id: uuid.UUID) -> Declaration:
        return lc.fold(doc_type.code, self.store.read(stream_id))

    def find(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = self.doc_types[doc_type_code]
        state = self.load(doc_type, doc_type.stream_id(key))
        return state if state.version else None

    # -- intake ----------------------------------------------------------------------------------
    def declare(self, command: DeclareDocument, position: Position | None = None) -> Outcome:
        """Validate a document and store it; release it for signing when nothing holds it."""
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
        errors = self._authorise(command, doc_type)
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
                return self._declare(command, doc_type, stream_id, state, errors, position)
            except VersionConflict:
                continue
            except AlreadyProcessed:
                return Outcome("duplicate", stream_id, self.load(doc_type, stream_id).status)
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    def _declare(
        self,
        command: DeclareDocument,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        auth_errors: list[CebError],
        position: Position | None,
    ) -> Outcome:
        content_hash = command.content_hash()
        if state.phase not in ("new", "refused") and state.content_hash == content_hash:
            self._mark(position)
            return Outcome("duplicate", stream_id, state.status)
        if auth_errors:
            return self._refuse(doc_type, stream_id, state, command, auth_errors, position)
        if state.phase not in ("new", "refused"):
            error = CebError(
                "-301010" if doc_type.code == "CEB311" else "CBEC-2001",
                f"{doc_type.head or doc_type.node}.{'/'.join(doc_type.key_fields)}",
                "duplicate key",
                "a different document with this business key was already declared",
            )
            return self._refuse(doc_type, stream_id, state, command, [error], position)
        document = self._complete(doc_type, command.document)
        errors = self.validate(doc_type, document)
        if errors:
            return self._refuse(doc_type, stream_id, state, command, errors, position)
        clearance_key = self._clearance_key(doc_type, document)
        events: list[tuple[str, dict[str, Any]]] = [
            (
                lc.RECEIVED,
                {
                    "docType": doc_type.code,
                    "clearanceKey": clearance_key,
                    "sender": command.sender,
                    "commandId": command.command_id,
                    "contentHash": content_hash,
                    "document": document,
                },
            )
        ]
        probe = copy.deepcopy(state)
        probe.apply(*events[0])
        waiting = self.waiting_for(probe)
        if waiting:
            events.append(
                (lc.HELD, {"docType": doc_type.code, "clearanceKey": clearance_key, "waitingFor": waiting})
            )
        else:
            events.append(
                self._release_event(
                    doc_type, stream_id, state.version + 2, clearance_key, command.sender, document
                )
            )
        self.store.append(stream_id, state.version, events, position)
        result = lc.fold(doc_type.code, self.store.read(stream_id))
        return Outcome("accepted", stream_id, result.status)

    def release(self, doc_type_code: str, key: tuple[str, ...]) -> bool:
        """Release a held document (the saga calls this when its prerequisites are met)."""
        doc_type = self.doc_types[doc_type_code]
        stream_id = doc_type.stream_id(key)
        for _ in range(self.retries):
            state = self.load(doc_type, stream_id)
            if state.phase != "held" or state.document is None:
                return False
            event = self._release_event(
                doc_type, stream_id, state.version + 1, state.clearance_key, state.sender, state.document
            )
            try:
                self.store.append(stream_id, state.version, [event])
                return True
            except VersionConflict:
                continue
        raise VersionConflict(f"{stream_id}: too many concurrent writers")

    # -- downstream messages ------------------------------------------------------------------------
    def record_signed(
        self, request_id: str, ok: bool, error: dict[str, str] | None, position: Position | None = None
    ) -> bool:
        doc_type, stream_id = self._parse_request_id(request_id)
        if doc_type is None:
            return False
        state = self.load(doc_type, stream_id)
        if state.release_request_id != request_id or state.phase != "released":
            self._mark(position)
            return False
        if ok:
            event = (
                lc.SIGNED,
                {"docType": doc_type.code, "clearanceKey": state.clearance_key, "requestId": request_id},
            )
        else:
            event = (
                lc.SIGNING_FAILED,
                {
                    "docType": doc_type.code,
                    "clearanceKey": state.clearance_key,
                    "requestId": request_id,
                    "error": error or {},
                },
            )
        return self._append_once(stream_id, state, [event], position)

    def record_sent(self, sent: DocumentTransmitted, position: Position | None = None) -> bool:
        doc_type, stream_id = self._parse_request_id(sent.request_id)
        if doc_type is None:
            return False
        state = self.load(doc_type, stream_id)
        if state.release_request_id != sent.request_id or state.phase not in ("released", "signed"):
            self._mark(position)
            return False
        event = (
            lc.SENT,
            {
                "docType": doc_type.code,
                "clearanceKey": state.clearance_key,
                "requestId": sent.request_id,
                "fileName": sent.file_name,
                "copMsgId": sent.cop_msg_id,
                "sentAt": sent.sent_at,
            },
        )
        return self._append_once(stream_id, state, [event], position)

    def record_receipt(self, receipt: ReceiptReceived, position: Position | None = None) -> bool:
        """Keep every receipt once; duplicates and late arrivals are tolerated."""
        doc_type = self.by_receipt.get(receipt.receipt_type)
        if doc_type is None:
            return False
        stream_id = doc_type.stream_id(tuple(receipt.business_key))
        state = self.load(doc_type, stream_id)
        r = Receipt(receipt.receipt_type, receipt.return_status, receipt.return_time, receipt.return_info)
        if not state.version or state.has_receipt(r):
            if not state.version:
                log.warning("receipt %s for an unknown %s document", receipt.receipt_id, doc_type.code)
            self._mark(position)
            return False
        event = (
            lc.RECEIPT_RECORDED,
            {
                "docType": doc_type.code,
                "clearanceKey": state.clearance_key,
                "receiptId": receipt.receipt_id,
                "receiptType": receipt.receipt_type,
                "returnStatus": receipt.return_status,
                "returnTime": receipt.return_time,
                "returnInfo": receipt.return_info,
            },
        )
        return self._append_once(stream_id, state, [event], position)

    # -- helpers ------------------------------------------------------------------------------------
    def _append_once(
        self,
        stream_id: uuid.UUID,
        state: Declaration,
        events: list[tuple[str, dict[str, Any]]],
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
    ) -> Outcome:
        event = (
            lc.REFUSED,
            {
                "docType": doc_type.code,
                "clearanceKey": state.clearance_key,
                "commandId": command.command_id,
                "sender": command.sender,
                "errors": [e.to_dict() for e in errors],
            },
        )
        try:
            self.store.append(stream_id, state.version, [event], position)
        except AlreadyProcessed:
            pass
        return Outcome("refused", stream_id, "refused at intake", errors)

    def _authorise(self, command: DeclareDocument, doc_type: DocType) -> list[CebError]:
        if command.sender not in self.tenants:
            return [
                CebError(
                    "-10102", "sender", "tenancy", f"sender {command.sender!r} is not a registered enterprise"
                )
            ]
        tenant = self.tenants.get(command.sender)
        allowed = SENDER_ROLES.get(doc_type.code, frozenset())
        if not (tenant.roles & allowed):
            return [
                CebError(
                    "-10101",
                    "sender",
                    "tenancy",
                    f"{doc_type.code} must come from a {' or '.join(sorted(allowed))} enterprise",
                )
            ]
        return []

    def _complete(self, doc_type: DocType, document: dict[str, Any]) -> dict[str, Any]:
        """Fill the head fields the platform owns when the sender left them out."""
        document = copy.deepcopy(document)
        head = document[doc_type.head] if doc_type.head else document
        head.setdefault("guid", str(uuid.uuid4()).upper())
        head.setdefault("appType", "1")
        head.setdefault("appTime", self.now().astimezone(CST).strftime("%Y%m%d%H%M%S"))
        head.setdefault("appStatus", "2")
        return document

    def _clearance_key(self, doc_type: DocType, document: dict[str, Any]) -> str:
        head = doc_type.head_of(document)
        ebp, order_no = head.get("ebpCode", ""), head.get("orderNo", "")
        return f"{ebp}:{order_no}" if ebp and order_no else ":".join(doc_type.business_key(document))

    def _release_event(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        version: int,
        clearance_key: str,
        sender: str,
        document: dict[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        tenant = self.tenants.get(sender)
        base_transfer = {
            "copCode": tenant.customs_code,
            "copName": tenant.name,
            "dxpMode": "DXP",
            "dxpId": tenant.dxp_id,
        }
        xml = self.render(doc_type, document, base_transfer)
        return (
            lc.RELEASED,
            {
                "docType": doc_type.code,
                "clearanceKey": clearance_key,
                "sender": sender,
                "requestId": f"{doc_type.code}:{stream_id}:{version}",
                "xml": base64.b64encode(xml).decode(),
            },
        )

    def _parse_request_id(self, request_id: str) -> tuple[DocType | None, uuid.UUID]:
        code, _, rest = request_id.partition(":")
        stream, _, _ = rest.partition(":")
        doc_type = self.doc_types.get(code)
        try:
            return doc_type, uuid.UUID(stream)
        except ValueError:
            return None, uuid.UUID(int=0)
