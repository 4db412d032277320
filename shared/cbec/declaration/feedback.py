"""What the signer, the customs link and the receipts service tell an owning service about its documents.

Each answer is kept once: duplicates and late arrivals are tolerated, and an answer about an
earlier release of a document (its requestId is not the current one) is marked handled and dropped.
"""

from __future__ import annotations

import logging
import uuid

from cbec.contracts.base import ContractError
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.events import DocumentSent, DocumentSigned, DocumentSigningFailed, EventData, ReceiptRecorded
from cbec.declaration import numbers, statuses
from cbec.declaration.core import DeclarationCore, stored
from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration, Receipt
from cbec.declaration.ports import AlreadyProcessed, Position
from cbec.declaration.receipt_clock import return_time_problem

log = logging.getLogger(__name__)


class Feedback(DeclarationCore):
    """``record_signed``, ``record_sent`` and ``record_receipt``."""

    def record_signed(
        self, request_id: str, ok: bool, error: dict[str, str] | None, position: Position | None = None
    ) -> bool:
        found = self._current_release(request_id, ("released",), position)
        if found is None:
            return False
        doc_type, stream_id, state = found
        event: EventData
        if ok:
            event = DocumentSigned(**self._stream(doc_type, state), request_id=request_id)
        else:
            event = DocumentSigningFailed(**self._stream(doc_type, state), request_id=request_id, error=error or {})
        return self._append_once(stream_id, state, [event], position)

    def record_sent(self, sent: DocumentTransmitted, position: Position | None = None) -> bool:
        found = self._current_release(sent.request_id, ("released", "signed"), position)
        if found is None:
            return False
        doc_type, stream_id, state = found
        event = DocumentSent(
            **self._stream(doc_type, state),
            request_id=sent.request_id,
            file_name=sent.file_name,
            cop_msg_id=sent.cop_msg_id,
            sent_at=sent.sent_at,
        )
        return self._append_once(stream_id, state, [event], position)

    def record_receipt(self, receipt: ReceiptReceived, position: Position | None = None) -> bool:
        """Keep every receipt once; duplicates and late arrivals are tolerated.

        A receipt of the type's own kind finds its stream by business key; a CEB900 (format error) by
        the requestId of the transmission it answers, and only while that is the document's current release.
        A receipt dated after now + ``receipt_max_skew`` is refused (``ContractError``: dead-lettered).
        """
        problem = return_time_problem(receipt.return_time, self.now(), self.receipt_max_skew)
        if problem is not None:
            log.warning("receipt %s refused: %s", receipt.receipt_id, problem.message)
            raise ContractError([problem])
        request_id = ""
        if receipt.receipt_type == statuses.FORMAT_ERROR:
            request_id = str(receipt.node.get("requestId", ""))
            found, stream_id = self._parse_request_id(request_id)
            if found is None or found.code != receipt.doc_type:
                return False
            doc_type: DocType = found
        else:
            by_receipt = self.by_receipt.get(receipt.receipt_type)
            if by_receipt is None:
                return False
            doc_type = by_receipt
            stream_id = doc_type.stream_id(tuple(receipt.business_key))
        r = Receipt(receipt.receipt_type, receipt.return_status, receipt.return_time, receipt.return_info)
        policy = self.policies.get(doc_type.code)
        assigned = {name: receipt.node[name] for name in (policy.numbered_by if policy else ())
                    if receipt.node.get(name) and receipt.receipt_type == doc_type.receipt_code}

        def attempt() -> bool:
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
            event = ReceiptRecorded(
                **self._stream(doc_type, state),
                receipt_id=receipt.receipt_id,
                receipt_type=receipt.receipt_type,
                return_status=receipt.return_status,
                return_time=receipt.return_time,
                return_info=receipt.return_info,
                numbers=assigned or None,
            )
            key = tuple(state.links.business_key or doc_type.business_key(state.document or {}))
            index = numbers.index(doc_type, key, assigned, self.store.read)
            try:
                self._commit(doc_type, stream_id, state, [event], position, index)
                return True
            except AlreadyProcessed:
                return False

        return self._retry(attempt, stream_id)

    def record_result(self, result: ReceiptReceived, position: Position | None = None) -> bool:
        """Keep customs' ``result`` (a message customs issues, not a receipt: a policy's ``results``) once on
        the stream of the document it is about: by its business key, else by the number customs gave
        that document (the policy's ``result_number``). A result for no document here is marked handled, or
        refused (``ContractError``: dead-lettered) when the policy says why (:meth:`DocumentPolicy.unknown_result`)."""
        policy = self.by_result.get(result.receipt_type)
        if policy is None:
            self._mark(position)
            return False
        doc_type = policy.doc_type
        key = tuple(result.business_key)
        if len(key) != len(doc_type.key_fields) or not all(key):
            found = self.numbered(doc_type, policy.result_number, result.node.get(policy.result_number, ""))
            key = tuple(found.links.business_key or ()) if found is not None else ()
        if not key:
            log.warning("result %s of type %s names no %s declared here", result.receipt_id, result.receipt_type,
                        doc_type.code)
            why = policy.unknown_result(result)
            if why is not None:
                raise ContractError([why])
            self._mark(position)
            return False
        stream_id = doc_type.stream_id(key)

        def attempt() -> bool:
            state = self.load(doc_type, stream_id)
            event = policy.result_event(result, self._stream(doc_type, state)) if state.version else None
            if event is None or result.receipt_id in state.results:
                self._mark(position)
                return False
            try:
                self._commit(doc_type, stream_id, state, [event], position)
                return True
            except AlreadyProcessed:
                return False

        return self._retry(attempt, stream_id)

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

    def _append_once(
        self,
        stream_id: uuid.UUID,
        state: Declaration,
        events: list[EventData],
        position: Position | None,
    ) -> bool:
        try:
            self.store.append(stream_id, state.version, stored(events), position)
            return True
        except AlreadyProcessed:
            return False
