"""Intake: validate a declared document against its type's policy and store it, held or released.

A repeat (same commandId, or the same content under the key) returns the stored outcome and
appends nothing; different content under the key is a change (see :mod:`.changes`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.events import (
    DocumentHeld,
    DocumentReceived,
    DocumentRefused,
    DocumentWithdrawn,
    EventData,
    stream_fields,
)
from cbec.declaration import changes, ownership, shape, statuses, strategies, tenancy
from cbec.declaration import lifecycle as lc
from cbec.declaration.core import DeclarationCore, Outcome, stored
from cbec.declaration.doctypes import EXPORT_BY_CODE
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import DocumentPolicy, Identity
from cbec.declaration.ports import AlreadyProcessed, Position, StreamAppend
from cbec.errors import CebError

CST = timezone(timedelta(hours=8))


class Intake(DeclarationCore):
    """``declare``: the owning service's intake of documents."""

    def declare(self, command: DeclareDocument, position: Position | None = None) -> Outcome:
        """Validate a document and store it; release it for signing unless its policy holds it for the saga."""
        policy = self.policies.get(command.doc_type)
        if policy is None:
            return self._refuse_unkeyed(
                position,
                CebError(
                    "CBEC-0003",
                    "docType",
                    "routing",
                    f"{command.doc_type} is not handled here (handles {', '.join(self.policies)})",
                ),
            )
        doc_type = policy.doc_type
        too_many = shape.check_lines(doc_type, command.document, policy.too_many_lines_code, policy.max_lines)
        if too_many:  # counted before anything looks at a line
            return self._refuse_unkeyed(position, *too_many)
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
            errors = tenancy.check_sender(self.tenants, command.sender, policy)
            errors.append(
                CebError("CBEC-0004", f"{policy.where}.{'/'.join(missing)}", "identity",
                         "the business key fields are required")
            )
            return self._refuse_unkeyed(position, *errors)
        bad_key = shape.check_key(doc_type, policy.where, policy.head(command.document), command.ebp_code,
                                  envelope={"orderNo": command.order_no, "ebcCode": command.ebc_code},
                                  no_platform=policy.overseas_platform)
        if bad_key:
            return self._refuse_unkeyed(position, *bad_key)
        stream_id = doc_type.stream_id(key)

        def attempt() -> Outcome:
            state = self.load(doc_type, stream_id)
            try:
                return self._declare(command, policy, key, stream_id, state, position)
            except AlreadyProcessed:
                return Outcome("duplicate", stream_id, self.load(doc_type, stream_id).status)

        return self._retry(attempt, stream_id)

    def _declare(
        self,
        command: DeclareDocument,
        policy: DocumentPolicy,
        key: tuple[str, ...],
        stream_id: uuid.UUID,
        state: Declaration,
        position: Position | None,
    ) -> Outcome:
        doc_type = policy.doc_type
        if not ownership.may_change(self.tenants, command.sender, state.owner):
            # The sender's own refusal: returned (and dead-lettered on Kafka), never in the owner's stream.
            errors = tenancy.check_sender(self.tenants, command.sender, policy) or [ownership.not_owner(policy)]
            return self._refuse_unkeyed(position, *errors)
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
        identity = policy.identity(command, key, self)
        applied = self._strategy(command, policy)
        errors = self._authorise(command, policy) + identity.errors + list(applied.errors)
        if not errors:
            errors = strategies.overseas_filing(self.tenants, command.sender, policy.strategy_fields, policy.where,
                                                policy.head(applied.document))
        if errors:
            return self._refuse(policy, stream_id, state, command, errors, position, identity)
        locked = policy.locked_code is not None and any(
            self.is_locked(k) for k in {identity.clearance_key, state.clearance_key} if k
        )
        requested = str(doc_type.head_of(command.document).get("appType", "1"))
        decision = changes.decide(policy, state, requested, locked, self.redeclare_app_type)
        error = decision.error or changes.stale(policy, state, command.document)
        if error is not None:
            return self._refuse(policy, stream_id, state, command, [error], position, identity)
        if decision.withdraw:
            withdrawn = DocumentWithdrawn(**self._stream(doc_type, state), command_id=command.command_id,
                                          sender=command.sender)
            self._commit(doc_type, stream_id, state, [withdrawn], position)
            return Outcome("accepted", stream_id, statuses.document_status("withdrawn"))
        document = self._complete(policy, applied.document, decision.app_type)
        errors = self.validate(doc_type, document)
        extra: list[StreamAppend] = []
        if not errors:
            for guard in self.guards:
                verdict = guard.on_intake(doc_type, stream_id, state, document)
                errors += verdict.errors
                extra += verdict.appends
        if errors:
            return self._refuse(policy, stream_id, state, command, errors, position, identity)
        received = DocumentReceived(
            **stream_fields(doc_type.code, identity.clearance_key, identity.links),
            strategy=applied.strategy or None,
            sender=command.sender,
            command_id=command.command_id,
            content_hash=content_hash,
            app_type=decision.app_type,
            links=identity.links.to_dict(),
            document=document,
            trade_mode=_export_field(doc_type.code, document, "tradeMode"),
            order_type=_export_field(doc_type.code, document, "orderType"),
        )
        probe = state.copy()
        probe.record(received)
        events: list[EventData] = [received]
        if policy.held_at_intake and decision.app_type != "3":
            # The saga decides the release, and says what the document waits for.
            events.append(DocumentHeld(**self._stream(doc_type, probe), waiting_for=[statuses.AWAITING_RELEASE]))
        else:
            events.append(self._release_event(doc_type, stream_id, state.version + 2, probe))
        self._commit(doc_type, stream_id, state, events, position, extra)
        probe.record(events[-1])
        return Outcome("accepted", stream_id, probe.status)

    def _refuse_unkeyed(self, position: Position | None, *errors: CebError) -> Outcome:
        self._mark(position)
        return self._refused(None, list(errors))

    def _refuse(
        self,
        policy: DocumentPolicy,
        stream_id: uuid.UUID,
        state: Declaration,
        command: DeclareDocument,
        errors: list[CebError],
        position: Position | None,
        identity: Identity,
    ) -> Outcome:
        outcome = self._refused(stream_id, errors)
        # A document not yet stored here belongs where its identity says.
        where = (stream_fields(policy.code, state.clearance_key, state.links) if state.clearance_key
                 else stream_fields(policy.code, identity.clearance_key, identity.links))
        refused = DocumentRefused(
            **where,
            command_id=command.command_id,
            sender=command.sender,
            errors=[e.to_dict() for e in outcome.errors],
            error_count=outcome.error_count if outcome.omitted else None,
        )
        try:
            self.store.append(stream_id, state.version, stored([refused]), position)
        except AlreadyProcessed:
            pass
        return outcome

    def _strategy(self, command: DeclareDocument, policy: DocumentPolicy) -> strategies.Applied:
        """The command's export strategy (or its sender's default) applied to its document."""
        if not policy.takes_strategy:
            refused = (CebError("CBEC-0002", "strategy", "strategy", "a strategy applies to export documents only"),)
            return strategies.Applied(command.document, errors=refused if command.strategy else ())
        strategy, errors = strategies.named(command.strategy, self.tenants, command.sender)
        if errors:
            return strategies.Applied(command.document, errors=tuple(errors))
        return strategies.apply(strategy, policy.strategy_fields, policy.is_list, policy.doc_type.head,
                                command.document, policy.where)

    def _authorise(self, command: DeclareDocument, policy: DocumentPolicy) -> list[CebError]:
        errors = tenancy.check_sender(self.tenants, command.sender, policy)
        if errors:
            return errors
        tenant = self.tenants.get(command.sender)
        return tenancy.check_codes(tenant, policy, command.document) + tenancy.check_distinct_parties(
            policy, command.document, command.ebp_code
        )

    def _complete(self, policy: DocumentPolicy, document: dict[str, Any], app_type: str) -> dict[str, Any]:
        """Fill the head fields the platform owns: appType as decided, guid/appTime/appStatus if left out."""
        # Only the head changes: copy it and share the rest (event data is never mutated).
        document = dict(document)
        head_name = policy.doc_type.head
        if head_name:
            head = document[head_name] = dict(document[head_name])
        else:
            head = document
        head["appType"] = app_type
        head.setdefault("guid", str(uuid.uuid4()).upper())
        head.setdefault("appTime", self.now().astimezone(CST).strftime("%Y%m%d%H%M%S"))
        head.setdefault("appStatus", "2")
        return document


def _export_field(code: str, document: dict[str, Any], name: str) -> str | None:
    """Export: the trade mode the saga orders the clearance by (a list's tradeMode, an order's orderType)."""
    found = EXPORT_BY_CODE.get(code)
    value = found.head_of(document).get(name) if found is not None else None
    return value if isinstance(value, str) and value else None
