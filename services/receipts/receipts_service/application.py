"""The customs link: signed documents out in DxpMsg envelopes, customs receipts in as events."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cbec.ceb import codec, dxp
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived, summary_result_node
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import Received, Staged
from cbec.customs.transport import Transport
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.doctypes import BY_CODE, BY_RECEIPT, EXPORT_BY_CODE, INVENTORY, STREAM_NAMESPACE, SUMMARY
from cbec.declaration.owners import owner_of, receipt_owner, unowned
from cbec.declaration.ports import AlreadyProcessed, DeclarationStore, Position, StreamAppend, VersionConflict
from cbec.declaration.receipt_clock import parse_return_time
from cbec.metrics import RECEIPT_DELAY
from cbec.store.handling import mark_handled
from cbec.telemetry import RecentTraces, continuing
from cbec.tenants import TenantRegistry

log = logging.getLogger(__name__)

CUSTOMS_IMPORT_DXP_ID = "DXPEDCCEB0000002"  # customs' DXP id for import messages (311 … 818)
CUSTOMS_EXPORT_DXP_ID = "DXPEDCCEB0000003"  # and for export messages (303 … 792), ceb-formats §6

TRANSMITTED = "DocumentTransmitted"
RECEIPT_FILE_INGESTED = "ReceiptFileIngested"
RECEIPT_FILE_REJECTED = "ReceiptFileRejected"
RECEIPT_RECEIVED = "ReceiptReceived"
COP_MSG_INDEXED = "TransmissionIndexed"
SETTLE_RETRY = 5.0  # seconds after a failed hand-over or settle before the next try
STAGED_GRACE = 120.0  # seconds before a file another process staged may be settled by this one
INBOX_SOURCE = "receipts|inbox"  # names the inbox's batches (they record no consumer position)
SUMMARY_RESULT = "CEB792"  # 汇总结果单: customs' own message about a summary (CEB701), not a receipt of it


def _cop_stream(cop_msg_id: str) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, f"cop-msg:{cop_msg_id}")


def _file_stream(message: Received) -> uuid.UUID:
    """One stream per receipt file: its name and content (the same file again is a repeat)."""
    digest = hashlib.sha256(message.data).hexdigest()
    return uuid.uuid5(STREAM_NAMESPACE, f"receipt-file:{message.name}:{digest}")


_NUMBERS = ("invtNo", "sumNo")  # numbers customs gives a document, which later results name it by


@dataclass(frozen=True, slots=True)
class _Transmission:
    """A sign result about to be transmitted: its transmission stream and its new CopMsgId."""

    result: SignResult
    stream_id: uuid.UUID
    cop_msg_id: str
    cop_stream: uuid.UUID


def customs_dxp_id(doc_type: str) -> str:
    """The DXP id customs receives ``doc_type`` messages under (export and import differ)."""
    return CUSTOMS_EXPORT_DXP_ID if doc_type in EXPORT_BY_CODE else CUSTOMS_IMPORT_DXP_ID


def receipt_id(receipt_type: str, node: dict[str, Any]) -> str:
    canonical = json.dumps([receipt_type, node], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class CustomsLinkApp:
    """Transmits each signed document once and turns every receipt file into receipt events.

    With a :class:`BatchingDeclarations` store, a consumer batch of sign results and a poll's receipt
    files are each recorded in one transaction (:meth:`transmit_batch`, :meth:`poll_inbox`); with any
    other store, one transaction per document or file.
    """

    def __init__(
        self,
        store: DeclarationStore,
        link: Transport,
        tenants: TenantRegistry,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        staged_grace: float = STAGED_GRACE,
    ) -> None:
        self.store = store
        self.link = link
        self.tenants = tenants
        self.now = now
        self.staged_grace = staged_grace
        self._handing = threading.Lock()  # staging, recording and handing over happen under it
        self._own_staged: set[Staged] = set()  # staged by this process and not settled after a failure
        self._unsettled = True  # at start: settle what an earlier process may have left staged
        self._next_sweep = 0.0
        self._retry_at = 0.0  # after a failed settle: not before this
        self.traces = RecentTraces()  # each document's last transmission: its receipts continue that trace

    def on_signed(self, raw: bytes, position: Position) -> None:
        """A message on ``cbec.sign.results``: transmit it; one that breaks the contract raises
        ``ContractError``, which the consumer dead-letters on ``cbec.dlq.receipts``."""
        self.transmit(self.sign_result(raw, position), position)

    def sign_result(self, raw: bytes, position: Position) -> SignResult:
        """The sign result in ``raw``; a signed document of a tenant this link may not send for (unknown
        here, or a sandbox tenant on a production link: :mod:`cbec.sandbox`) breaks the contract too."""
        try:
            result = SignResult.from_json(raw)
        except ContractError as bad:
            log.warning("unreadable sign result at %s@%d: %s", position.source, position.offset, bad)
            raise
        if result.ok and result.tenant not in self.tenants:
            log.warning("sign result at %s@%d: tenant %s may not send on this customs link", position.source,
                        position.offset, result.tenant)
            raise ContractError(f"tenant: {result.tenant} may not send on this customs link (not registered"
                                " here, or a sandbox tenant on a production link)")
        return result

    def transmit(self, result: SignResult, position: Position | None = None) -> str | None:
        """Wrap a signed document in a DxpMsg and drop it for customs; once per request id.

        The file is staged (durable, not yet visible to customs), the transmission recorded, and only
        then is the file handed over: whatever becomes of the commit or the process, the staged file is
        settled by the record (:meth:`settle_staged`), so a recorded document is sent exactly once.
        """
        with self._handing:
            self._settle_if_due()
            planned = self._plan(result)
            if planned is None:
                self._mark(position)
                return None
            outgoing = self._prepare(planned, position)
            if outgoing is None:
                return None
            with self._unsettled_on_failure([outgoing]):
                self.link.stage([outgoing])
                recorded = self._append(planned, outgoing, position)
            if not recorded:
                self.link.discard([outgoing])
                return None
            self._hand_over([outgoing])
            return outgoing.name

    def transmit_batch(self, results: Sequence[tuple[SignResult, Position]],
                       traced: Callable[[Position], AbstractContextManager[object]] | None = None) -> list[str]:
        """Transmit a consumer batch (one partition, in offset order): every transmission and the
        batch's position in ONE transaction, with the files staged inside it and handed over together
        after the commit (as in :meth:`transmit`). If the commit fails the caller redoes the messages one
        at a time, which first settles what this attempt staged. Returns the names handed over.
        ``traced(position)``: the span each message's work runs in (its trace goes on with its events)."""
        store = self.store
        if not isinstance(store, BatchingDeclarations) or len({p.source for _, p in results}) != 1:
            return [name for r, p in results if (name := self.transmit(r, p)) is not None]
        with self._handing:
            self._settle_if_due()
            source = results[0][1].source
            done = store.processed_up_to(source)
            todo = [(r, p, self._plan(r)) for r, p in results if done is None or p.offset > done]
            if not todo:
                return []
            streams = [s for _, _, plan in todo if plan is not None for s in (plan.stream_id, plan.cop_stream)]
            outgoing: list[Staged] = []
            with self._unsettled_on_failure(outgoing), store.batch(source, streams, done_up_to=done):
                for _, position, plan in todo:
                    with traced(position) if traced is not None else nullcontext():
                        if plan is None:
                            self._mark(position)
                        elif (staged := self._prepare(plan, position)) is not None and \
                                self._append(plan, staged, position):
                            outgoing.append(staged)
                self.link.stage(outgoing)  # inside the transaction: durable before anything commits
            self._hand_over(outgoing)
            return [f.name for f in outgoing]

    def settle_staged(self, *, grace: float | None = None) -> int:
        """Hand over each staged file whose transmission is recorded under its name, discard the others.

        Files this process staged are settled at once; any other (a crashed process's, or a replica's
        on a shared outbox) only once older than ``grace`` seconds, when no transaction can still be
        deciding it. Returns how many were handed over."""
        with self._handing:
            return self._settle(self.staged_grace if grace is None else grace)

    def _settle_if_due(self) -> None:
        """Settle after a failure, and sweep now and then for files another process left staged. A
        settle that fails (the transport or the database away) is retried later, never in the way of
        new transmissions: what it settles is recorded already, and nothing new depends on it."""
        now = time.monotonic()
        if not (self._unsettled and now >= self._retry_at) and now < self._next_sweep:
            return
        try:
            self._settle(self.staged_grace)
        except Exception as error:  # noqa: BLE001 - retried after SETTLE_RETRY; the files stay staged
            self._retry_at = now + SETTLE_RETRY
            self._next_sweep = max(self._next_sweep, self._retry_at)
            log.warning("customs link: staged files not settled yet (%s); retrying in %.0f s",
                        type(error).__name__, SETTLE_RETRY)

    def _hand_over(self, outgoing: list[Staged]) -> None:
        """Hand over what was just recorded. A failure here is not the message's fault: the files stay
        staged and are settled later (the consumer moves on; the transmissions are recorded)."""
        try:
            self.link.hand_over(outgoing)
        except Exception as error:  # noqa: BLE001 - see the docstring
            self._own_staged.update(Staged(f.ticket, f.name) for f in outgoing)
            self._unsettled = True
            self._retry_at = time.monotonic() + SETTLE_RETRY
            log.error("customs link: %d recorded transmission(s) not handed over yet (%s); retrying in %.0f s",
                      len(outgoing), type(error).__name__, SETTLE_RETRY)

    @contextmanager
    def _unsettled_on_failure(self, outgoing: list[Staged]) -> Iterator[None]:
        """On any failure, what ``outgoing`` holds (then) is left for :meth:`_settle`, which decides by
        the record whether the commit happened."""
        try:
            yield
        except BaseException:
            self._own_staged.update(Staged(f.ticket, f.name) for f in outgoing)
            self._unsettled = True
            raise

    def _settle(self, grace: float) -> int:
        keep, drop = [], []
        for staged, age in self.link.staged():
            if staged not in self._own_staged and age < grace:
                continue
            try:
                recorded = self.store.read(uuid.UUID(staged.ticket))
            except ValueError:
                recorded = []
            if recorded and recorded[0][1].get("file_name") == staged.name:
                keep.append(staged)
            else:
                drop.append(staged)
        handed = self.link.hand_over(keep) if keep else 0
        self.link.discard(drop)
        if keep or drop:
            log.info("customs link: settled staged files: %d handed over, %d discarded", handed, len(drop))
        self._own_staged.difference_update(keep + drop)
        self._unsettled = bool(self._own_staged)
        self._next_sweep = time.monotonic() + max(grace, 1.0) / 2
        return handed

    def _plan(self, result: SignResult) -> _Transmission | None:
        if not result.ok:
            return None
        request_id = result.request_id
        cop_msg_id = str(uuid.uuid4()).upper()
        return _Transmission(result, uuid.uuid5(STREAM_NAMESPACE, f"transmission:{request_id}"), cop_msg_id,
                             _cop_stream(cop_msg_id))

    def _prepare(self, plan: _Transmission, position: Position | None) -> Staged | None:
        """The file of one transmission (ticket: its stream), or None if the request was transmitted before."""
        result = plan.result
        if self.store.read(plan.stream_id):
            self._mark(position)
            return None
        tenant = self.tenants.get(result.tenant)
        when = self.now()
        name = self.link.free_name(result.doc_type, tenant.customs_code, when)
        envelope = dxp.wrap(result.signed_xml(), msg_type=f"{result.doc_type}Message", sender_id=tenant.dxp_id,
                            receiver_ids=[customs_dxp_id(result.doc_type)], cop_msg_id=plan.cop_msg_id, created=when,
                            file_name=name)
        return Staged(str(plan.stream_id), name, envelope)

    def _append(self, plan: _Transmission, staged: Staged, position: Position | None) -> bool:
        """Record the transmission and the CopMsgId index CEB900 receipts are correlated by, with
        ``position``; False if another delivery recorded it first."""
        result = plan.result
        event = DocumentTransmitted(result.request_id, result.doc_type, result.clearance_key, staged.name,
                                    plan.cop_msg_id, self.now().isoformat())
        index = {"requestId": result.request_id, "docType": result.doc_type, "clearanceKey": result.clearance_key,
                 "fileName": staged.name}
        try:
            self.store.append_batch([StreamAppend(plan.stream_id, 0, [(TRANSMITTED, event.to_dict())]),
                                     StreamAppend(plan.cop_stream, 0, [(COP_MSG_INDEXED, index)])], position)
        except (VersionConflict, AlreadyProcessed):
            return False
        self.traces.remember(result.request_id.rsplit(":", 1)[0])  # the document: "<code>:<stream>"
        return True

    def ingest(self, path: Path) -> int:
        """Record one receipt file (any receipt type); a repeat of the same file is ignored."""
        return self.ingest_message(path.name, path.read_bytes())

    def ingest_message(self, name: str, raw: bytes, problem: str = "") -> int:
        """Record one receipt message fetched from the transport; a repeat is ignored."""
        return self._ingest(Received(name, raw, problem))[0]

    def poll_inbox(self) -> int:
        """Ingest what the transport has (see :meth:`inbox_round`); returns how many receipts were new."""
        return self._inbox_round()[1]

    def inbox_round(self) -> int:
        """Ingest what the transport has, in one transaction when the store batches (else, or if
        that fails, one file at a time); then each file is acknowledged (archived), or quarantined
        if it was recorded as rejected. Returns how many files were handled (the poller's work)."""
        return self._inbox_round()[0]

    def _inbox_round(self) -> tuple[int, int]:
        if self._unsettled or time.monotonic() >= self._next_sweep:
            with self._handing:
                self._settle_if_due()
        received = self.link.fetch()
        if not received:
            return 0, 0
        outcomes: list[tuple[int, bool]] | None = None
        store = self.store
        if isinstance(store, BatchingDeclarations) and len(received) > 1:
            try:
                with store.batch(INBOX_SOURCE, [_file_stream(r) for r in received], done_up_to=0):
                    outcomes = [self._ingest(r) for r in received]
            except Exception as error:  # noqa: BLE001 - redone file by file, which reports its own error
                log.info("inbox batch of %d failed (%s); recording file by file", len(received),
                         type(error).__name__)
                outcomes = None
        if outcomes is None:
            outcomes = [self._ingest(r) for r in received]
        for r, (_, rejected) in zip(received, outcomes, strict=True):
            if rejected:
                self.link.quarantine(r.name)
            else:
                self.link.acknowledge(r.name)
        return len(received), sum(count for count, _ in outcomes)

    def _ingest(self, message: Received) -> tuple[int, bool]:
        """Record one receipt file: (new receipts, whether the file is recorded as rejected)."""
        name = message.name
        stream_id = _file_stream(message)
        stored = self.store.read(stream_id)
        if stored:
            return 0, stored[0][0] == RECEIPT_FILE_REJECTED
        events: list[tuple[str, dict[str, Any]]]
        try:
            if message.problem:
                raise OSError(message.problem)
            receipts = self._receipts_in(message.data)
            events = [(RECEIPT_FILE_INGESTED, {"fileName": name, "count": len(receipts)})]
            # One event per receipt: each gets its own notification id, which consumers dedupe by.
            events += [(RECEIPT_RECEIVED, r.to_dict()) for r in receipts]
        except Exception as exc:  # noqa: BLE001 - a bad file is recorded, never dropped
            log.warning("receipt file %s unreadable: %s", name, type(exc).__name__)
            receipts = []
            events = [(RECEIPT_FILE_REJECTED, {"fileName": name, "error": str(exc)[:500]})]
        try:
            with continuing(self._trace_of(receipts), "customs receipt"):
                self.store.append(stream_id, 0, events)
        except VersionConflict:
            return 0, False
        self._observe_delays(receipts)
        return len(receipts), events[0][0] == RECEIPT_FILE_REJECTED

    def _observe_delays(self, receipts: Sequence[ReceiptReceived]) -> None:
        """``cbec_receipt_delay_seconds`` by receipt type: how long after customs issued it each arrived."""
        now = self.now()
        for receipt in receipts:
            issued = parse_return_time(receipt.return_time)
            if issued is not None:
                RECEIPT_DELAY.labels(receipt.receipt_type).observe(max(0.0, (now - issued).total_seconds()))

    def _trace_of(self, receipts: Sequence[ReceiptReceived]) -> dict[str, str]:
        """The trace of the transmission the file's first known receipt answers (empty: none known). A
        receipt naming a number customs gave (invtNo, sumNo) hands the trace on to the results that name
        the document only by it (a CEB816 tax bill, a CEB792 summary result)."""
        for receipt in receipts:
            request_id = receipt.node.get("requestId", "")
            doc_type = BY_CODE.get(receipt.doc_type)
            if request_id:
                keys = [request_id.rsplit(":", 1)[0]]
            elif doc_type is not None and all(receipt.business_key):
                keys = [f"{doc_type.code}:{doc_type.stream_id(tuple(receipt.business_key))}"]
            else:
                keys = []
            keys += [f"{field}:{number}" for field in _NUMBERS if (number := str(receipt.node.get(field) or ""))]
            for key in keys:
                if found := self.traces.get(key):
                    for field in _NUMBERS:
                        if number := str(receipt.node.get(field) or ""):
                            self.traces.remember(f"{field}:{number}", found)
                    return found
        return {}

    def transmission_of(self, cop_msg_id: str) -> dict[str, Any] | None:
        """The transmission a CopMsgId names (requestId, docType, clearanceKey, fileName)."""
        events = self.store.read(_cop_stream(cop_msg_id))
        return dict(events[0][1]) if events else None

    def _receipts_in(self, raw: bytes) -> list[ReceiptReceived]:
        business = dxp.unwrap(raw).data if dxp.is_dxp(raw) else raw
        msg = codec.parse(business, strict=False)
        if msg.warnings:  # codes and paths only: a finding's message may quote a value
            log.warning("receipt %s read leniently: %s", msg.type,
                        ", ".join(sorted({f"{w.code} {w.path}" for w in msg.warnings}))[:500])
        out: list[ReceiptReceived] = []
        if msg.type == SUMMARY_RESULT:
            return [self._summary_result(node) for node in msg.docs]
        doc_type = BY_RECEIPT.get(msg.type)
        for node in msg.docs:
            flat = {k: v for k, v in node.items() if isinstance(v, str)}
            tax_head = node.get("TaxHeadRd") or node.get("TaxHeadStatus")
            if isinstance(tax_head, dict):  # CEB816 tax bill / CEB818 tax status: about a list, by invtNo
                flat = {k: v for k, v in tax_head.items() if isinstance(v, str)}
                out.append(ReceiptReceived(
                    receipt_id=receipt_id(msg.type, flat), receipt_type=msg.type, doc_type=INVENTORY.code,
                    business_key=[flat.get("invtNo", "")], return_status=_int(flat.get("status", "")),
                    return_time=flat.get("returnTime", ""), return_info=flat.get("note", ""), node=flat))
                continue
            if doc_type is None:  # CEB900 and customs-issued messages: correlated by the transmission
                key: list[str] = [flat.get("oriCopMsgId", "")]
                doc_code = flat.get("oriMessageType", "").removesuffix("Message")
                sent = self.transmission_of(key[0]) if key[0] else None
                if sent is not None:
                    flat = {**flat, "requestId": sent["requestId"], "clearanceKey": sent["clearanceKey"]}
                    doc_code = str(sent["docType"])
            else:
                key = list(doc_type.receipt_key(flat))
                doc_code = doc_type.code
            out.append(ReceiptReceived(
                receipt_id=receipt_id(msg.type, flat), receipt_type=msg.type, doc_type=doc_code, business_key=key,
                return_status=_int(flat.get("returnStatus", "")), return_time=flat.get("returnTime", ""),
                return_info=flat.get("returnInfo", ""), node=flat))
        return out

    @staticmethod
    def _summary_result(node: dict[str, Any]) -> ReceiptReceived:
        """A CEB792 for the summary's owner (``summary_result_node``): found by its sumNo, which the
        summary's CEB702 gave (SummaryResultHead names no copNo), so the business key stays empty."""
        head = node.get("SummaryResultHead")
        lines = node.get("SummaryResultList") or []
        flat = summary_result_node(head if isinstance(head, dict) else {},
                                   [x for x in (lines if isinstance(lines, list) else [lines]) if isinstance(x, dict)])
        return ReceiptReceived(receipt_id=receipt_id(SUMMARY_RESULT, flat), receipt_type=SUMMARY_RESULT,
                               doc_type=SUMMARY.code, business_key=[], return_status=0,
                               return_time=flat.get("opDate", ""), return_info=flat.get("decState", ""), node=flat)

    def _mark(self, position: Position | None) -> None:
        mark_handled(self.store.record_position, position)


def _int(text: str) -> int:
    """A receipt status as a number (0 when customs left it empty or non-numeric)."""
    try:
        return int(text)
    except ValueError:
        return 0


def route(stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """Transmissions and receipts go to the feedback topics of the service owning their document type
    (``cbec.declaration.owners``), keyed by the clearance (or business) key. A receipt nobody owns (a
    CEB900 naming neither a transmission the link sent nor a known message type) is dead-lettered on
    ``cbec.dlq.receipts``, so it is never lost silently.

    The stored payloads are the messages' own ``to_dict()``, so they are read back, not re-checked."""
    if event_type == TRANSMITTED:
        sent = DocumentTransmitted(**data)
        owner = owner_of(sent.doc_type)
        if owner is not None:
            return [(topics.feedback(owner, topics.FEEDBACK_SENT), sent.key, sent.to_json())]
        return [_unowned(stream_id, version, sent.to_json(), f"a transmission of {sent.doc_type!r}")]
    if event_type == RECEIPT_RECEIVED:
        receipt = ReceiptReceived(**data)
        owner = receipt_owner(receipt)
        if owner is not None:
            return [(topics.feedback(owner, topics.FEEDBACK_RECEIPTS), receipt.key, receipt.to_json())]
        return [_unowned(stream_id, version, receipt.to_json(),
                         f"a {receipt.receipt_type} receipt about {receipt.doc_type or 'an unknown message'}")]
    return []


def _unowned(stream_id: uuid.UUID, version: int, raw: bytes, what: str) -> tuple[str, str, bytes]:
    log.warning("customs link: %s has no owning service; dead-lettered", what)
    return unowned("receipts", f"receipts:{stream_id}", version, raw, what)
