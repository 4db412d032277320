"""What the signer, the customs link and the receipts service tell an owning service about its documents.

Each answer is kept once: duplicates and late arrivals are tolerated, and an answer about an
earlier release of a document (its requestId is not the current one) is marked handled and dropped.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from cbec.contracts.base import ContractError
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.events import (
    DocumentSent,
    DocumentSigned,
    DocumentSigningFailed,
    EventData,
    Links,
    ReceiptRecorded,
    stream_fields,
)
from cbec.declaration import numbers, parking, statuses
from cbec.declaration.core import DeclarationCore, stored
from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration, Receipt
from cbec.declaration.policy import DocumentPolicy
from cbec.declaration.ports import AlreadyProcessed, Position, StreamAppend
from cbec.declaration.receipt_clock import return_time_problem
from cbec.errors import CebError

log = logging.getLogger(__name__)


class Feedback(DeclarationCore):
    """``record_signed``, ``record_sent`` and ``record_receipt``."""

    results_parked_max = 10_000  # results of a type that may wait parked (CBEC_RESULTS_PARKED_MAX)

    @property
    def parking_register(self) -> parking.Register:
        """The register's last pages found so far and the sweep's place, per process."""
        found = self.__dict__.get("_parking_register")
        if found is None:
            found = self.__dict__["_parking_register"] = parking.Register()
        return found

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

        done = self._retry(attempt, stream_id)
        if done and policy is not None and policy.results and assigned.get(policy.result_number):
            self._unpark(policy, assigned[policy.result_number])
        return done

    def _unpark(self, policy: DocumentPolicy, number: str) -> None:
        """Right after a receipt assigned ``number``: the results parked for it (a crash before this is
        made good by :meth:`sweep_parked`)."""
        self.apply_parked(policy, number)

    def record_result(self, result: ReceiptReceived, position: Position | None = None) -> bool:
        """Keep customs' ``result`` (a message customs issues, not a receipt: a policy's ``results``) once on
        the stream of the document it is about: by its business key, else by the number customs gave
        that document (the policy's ``result_number``). A result naming a number not (yet) assigned here is
        parked until a receipt assigns it (:mod:`.parking`); one wrong in itself is refused (``ContractError``:
        dead-lettered) when the policy says why (:meth:`DocumentPolicy.unknown_result`), else dropped.
        True when the result was recorded on its document now."""
        policy = self.by_result.get(result.receipt_type)
        if policy is None:
            self._mark(position)
            return False
        doc_type = policy.doc_type
        key = tuple(result.business_key)
        by_key = len(key) == len(doc_type.key_fields) and all(key)
        number = "" if by_key or not policy.result_number else str(result.node.get(policy.result_number, ""))
        index_id = numbers.stream_id(doc_type, policy.result_number, number)

        def attempt() -> bool:
            index = [] if by_key or not number else self.store.read(index_id)
            found = key if by_key else numbers.assigned(index)
            if not found:
                return self._park(policy, number, index, result, position)
            state = self.load(doc_type, doc_type.stream_id(found))
            event = policy.result_event(result, self._stream(doc_type, state)) if state.version else None
            if event is None or result.receipt_id in state.results:
                self._mark(position)
                return False
            try:
                self._commit(doc_type, doc_type.stream_id(found), state, [event], position)
                return True
            except AlreadyProcessed:
                return False

        return self._retry(attempt, index_id if number else doc_type.stream_id(key))

    def _park(self, policy: DocumentPolicy, number: str, index: list[tuple[str, dict[str, Any]]],
              result: ReceiptReceived, position: Position | None) -> bool:
        """Park ``result`` on the index stream of ``number`` (read as ``index``), with the consumer's position."""
        doc_type = policy.doc_type
        why = policy.unknown_result(result)
        if why is not None:
            log.warning("result %s of type %s refused: %s", result.receipt_id, result.receipt_type, why.message)
            raise ContractError([why])
        if not number:
            log.warning("result %s of type %s names no %s declared here", result.receipt_id, result.receipt_type,
                        doc_type.code)
            self._mark(position)
            return False
        # Checked now as it will be recorded: a result refused then is dead-lettered now, never parked.
        unplaced = stream_fields(doc_type.code, "", Links())
        if parking.ever_parked(index, result.receipt_id) or policy.result_event(result, unplaced) is None:
            self._mark(position)
            return False
        name = policy.result_number
        last = self.parking_register.last(doc_type, self.store.read)
        too_many = (f"{last.count} results of type {result.receipt_type} already wait for the receipts numbering "
                    f"their documents (at most {self.results_parked_max}, CBEC_RESULTS_PARKED_MAX)"
                    if last.count >= self.results_parked_max else
                    f"{parking.MAX_PER_NUMBER} results already wait for {name} {number[:18]!r}"
                    if parking.parked_here(index) >= parking.MAX_PER_NUMBER else None)
        if too_many is not None:
            log.error("result %s refused, not parked: %s", result.receipt_id, too_many)
            raise ContractError([CebError(parking.TOO_MANY, f"{result.receipt_type}.{name}", "parked results",
                                          f"{too_many}: no receipt here numbers the document it names")])
        at = self.now()
        appends = [
            StreamAppend(numbers.stream_id(doc_type, name, number), len(index),
                         [parking.parked_event(doc_type, name, number, result, at, with_result=True)]),
            last.append(doc_type, [parking.parked_event(doc_type, name, number, result, at, with_result=False)]),
        ]
        try:
            self.store.append_batch(appends, position)
        except AlreadyProcessed:
            return False
        log.info("result %s of type %s parked until a receipt assigns %s %s", result.receipt_id,
                 result.receipt_type, name, number)
        return False  # kept, not yet recorded on a document

    def apply_parked(self, policy: DocumentPolicy, number: str) -> int:
        """Record the results parked for ``number`` (of the policy's ``result_number``) on the document it
        names now, each once, and unpark them, in one transaction; how many were recorded (0 while the
        number is not assigned)."""
        doc_type = policy.doc_type
        index_id = numbers.stream_id(doc_type, policy.result_number, number)

        def attempt() -> int:
            index = self.store.read(index_id)
            key, pending = numbers.assigned(index), parking.waiting(index)
            if key is None or not pending:
                return 0
            stream_id = doc_type.stream_id(key)
            state = self.load(doc_type, stream_id)
            if not state.version:
                return 0
            recorded: list[EventData] = []
            done: list[parking.Parked] = []
            seen = set(state.results)
            for parked in pending:
                try:
                    event = (policy.result_event(parked.result, self._stream(doc_type, state))
                             if parked.result is not None and parked.receipt_id not in seen else None)
                except ContractError as error:  # checked when parked: only a changed rule gets here
                    log.error("parked result %s refused when applied, it stays parked: %s", parked.receipt_id,
                              "; ".join(e.message for e in error.errors))
                    continue
                if event is not None:
                    recorded.append(event)
                    seen.add(parked.receipt_id)
                done.append(parked)
            if not done:
                return 0
            unparked = [parking.unparked_event(doc_type, parked) for parked in done]
            extra = [StreamAppend(index_id, len(index), unparked),
                     self.parking_register.last(doc_type, self.store.read).append(doc_type, unparked)]
            self._commit(doc_type, stream_id, state, recorded, None, extra)
            log.info("%d parked result(s) for %s %s recorded", len(recorded), policy.result_number, number)
            return len(recorded)

        return self._retry(attempt, index_id)

    def sweep_parked(self, max_age: timedelta, pages: int = parking.SWEEP_PAGES) -> list[parking.Waiting]:
        """Apply the parked results whose number is assigned by now (what a crash between numbering and
        applying left), reading at most ``pages`` register pages per type and resuming there next time; and
        say what still waits per type: how many (exact), how many longer than ``max_age`` and the oldest's
        age (from the last full pass over the register, or this one's pages while there is none)."""
        out: list[parking.Waiting] = []
        now = self.now()
        register = self.parking_register
        for policy in {p.code: p for p in self.by_result.values() if p.result_number}.values():
            doc_type = policy.doc_type
            last = register.last(doc_type, self.store.read)
            swept = register.sweeps.setdefault(doc_type.kind, parking.SweepPass())
            end = min(last.page, swept.page + pages - 1)
            for page in range(swept.page, end + 1):
                left_here = False
                for name, number in parking.parked_refs(self.store.read(parking.register_id(doc_type, page))):
                    if name != policy.result_number:
                        continue
                    self.apply_parked(policy, number)
                    index = self.store.read(numbers.stream_id(doc_type, name, number))
                    for parked in parking.waiting(index):
                        left_here = True
                        if parked.parked_at:
                            swept.ages.append(now - datetime.fromisoformat(parked.parked_at))
                swept.passed(page, left_here)
            if end >= last.page:
                swept.complete()
            ages = swept.reported
            out.append(parking.Waiting(policy.code, register.last(doc_type, self.store.read).count,
                                       sum(1 for a in ages if a > max_age),
                                       max(ages, default=timedelta(0)).total_seconds() / 86400))
        return out

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
