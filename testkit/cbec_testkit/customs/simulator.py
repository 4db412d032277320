"""A customs simulator: reads the DXP outbox, checks each message as customs would, writes receipts.

It keeps a small customs database (every document it accepted, each list's status, each buyer's
annual total) and answers like customs does:

- an unreadable envelope or an XSD failure → a CEB900 naming the transmission (``oriCopMsgId``);
- a wrong or missing signature → the type's signature error code (or CEB900 ``1001``);
- structural and business findings (``cbec.ceb.validation``, cross-document rules against what
  it accepted, single and annual limits) → the finding's negative code;
- a second document with a business key it already has → the duplicate code (-301010 …); the
  same document again (same guid) → its current status again (how a lost receipt is recovered);
- a waybill before its order and payment, a list before its waybill, an entry list before its
  lists → ``100`` (customs rejects it);
- otherwise receipts after configurable delays: 2 → 120 (311/411/511/513/711), 2 → 120 → 399 → 800
  (→ 899) for lists, 2 → 120 → 399 for cancels and returns, with seeded rates of inspection (500),
  rejection (100), lost and duplicated receipts;
- a released list's electronic tax bill (CEB816) ``tax_delay`` after its 800, and the bills' status
  (CEB818): summarised into a payment notice when a test calls :meth:`CustomsSimulator.settle_taxes`,
  void once the list's cancel or return is concluded (``tax_desk``).

Like a DXP client, it takes each file it answered out of the outbox, to ``<outbox>/taken/<yyyy-mm-dd>/``,
so a poll lists only what arrived since the last one. It runs in process (the embedded demo and tests
call ``poll()``) or as its own process (``cbec run simulator``, idle for ``CBEC_SIMULATOR_POLL_EVERY``
seconds at most, or until its next receipt is due), keeping a journal of the files it has answered
(one line each: where the file now rests, relative to the outbox) so that it answers each exactly
once across restarts: a file is journaled before it is moved, and the journal's files are re-read
silently at start to rebuild its database. ``arrivals`` records what arrived, in order;
``clearance_arrivals`` the same per clearance; :func:`answered_files` lists the journal's files.

``verify=False`` (``CBEC_SIMULATOR_VERIFY=0``) skips the XSD and signature checks, the costly part
of answering, for load runs where the documents are known to be well formed and signed.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cbec.ceb import codec, dxp
from cbec.ceb.model import CebMessage
from cbec.ceb.tables import EXPORT, IMPORT
from cbec.ceb.validation import RelatedDocs, validate
from cbec.ceb.xsd import xsd_errors
from cbec.customs.filedrop import seed_file_name, waiting_files, write_all_atomically
from cbec.declaration.doctypes import BY_CODE, EXPORT_BY_CODE, DocType
from cbec.settings import Settings, SimulatorSettings

from cbec_testkit.customs import tax_desk
from cbec_testkit.customs.export_desk import CUSTOMS_EXPORT_DXP_ID, ExportDesk, is_export

log = logging.getLogger(__name__)

CST = timezone(timedelta(hours=8))
CUSTOMS_IMPORT_DXP_ID = "DXPEDCCEB0000002"
SIGNATURE_FAILURE_CODE = {"CEB621": "-621029", "CEB623": "-623029", "CEB625": "-625005"}
SIGNATURE_MISSING_CODE = {"CEB621": "-621026", "CEB623": "-623017", "CEB625": "-625028"}
DUPLICATE_CODE = {"CEB311": "-301010", "CEB411": "-401007", "CEB511": "-504015", "CEB513": "-505012",
                  "CEB621": "-621004", "CEB623": "-623009", "CEB625": "-625022", "CEB711": "-800003"}
LOCKED_CODE = {"CEB311": "-301011", "CEB411": "-401008", "CEB511": "-504016"}
CHECK_FAILED_CODE = {"CEB311": "-301001", "CEB411": "-401001", "CEB511": "-504001", "CEB513": "-505001",
                     "CEB621": "-621001", "CEB623": "-623001", "CEB625": "-625001", "CEB711": "-800001"}
REJECTED = 100
INDEXED_FIELDS = ("orderNo", "logisticsNo")  # the head fields records are looked up by (``_find``)
LIST_NUMBER = "#invtNo"  # the index of lists by the number customs gave them
TYPES: dict[str, DocType] = {**EXPORT_BY_CODE, **BY_CODE}  # every type customs answers
NUMBERED = ("CEB621", "CEB603")  # lists: customs gives each an invtNo
TAKEN = "taken"  # <outbox>/taken/<yyyy-mm-dd>/: the files customs has answered


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    code: str = ""
    reason: str = ""


def verify_with_product_verifier(xml: bytes) -> Verdict:
    """Check the enveloped signature (spec-2022 profile first, then the e-port client one)."""
    from cbec.signing.xmldsig import verify_document

    result = verify_document(xml)
    return Verdict(bool(result.ok), str(getattr(result, "code", "") or ""), str(result.reason))


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    receipt_type: str = field(compare=False)
    node: dict[str, Any] = field(compare=False)
    reply_to: str = field(compare=False)
    cop_code: str = field(compare=False)
    record: _Record | None = field(compare=False, default=None)


@dataclass
class SimulatorConfig:
    """Delays (seconds) between receipts, rates of trouble, and scripted faults for demos.

    ``faults`` maps ``(docType, orderNo)`` to ``reject`` (100 after 2), ``inspect`` (500 before
    399 for a list) or ``lose`` (no receipt of this arrival is ever written); a fault applies to the first
    arrival only, so a correction or a resend goes through.
    """

    accept_delay: float = 0.0  # from status 2 to status 120
    first_delay: float = 0.0  # until status 2
    conclude_delay: float = 0.0  # 120 → 399 (lists, cancels, returns)
    release_delay: float = 0.0  # 399 → 800 (lists)
    inspection_delay: float = 0.0  # extra time a list spends in 500 (inspection)
    close_delay: float | None = None  # 800 → 899 (lists); None: no 899
    # 800 → the list's tax bill (CEB816); None: none. Later than the 800, so the platform has read the
    # list's number (invtNo, in its CEB622) before the bill naming it arrives.
    tax_delay: float | None = 1.0
    inspection_rate: float = 0.0
    rejection_rate: float = 0.0
    lost_rate: float = 0.0  # first receipts lost on the way; the answer to a resend always arrives
    duplicate_rate: float = 0.0
    faults: dict[tuple[str, str], str] = field(default_factory=dict)
    verify: bool = True  # False: no XSD or signature check (load runs)
    poll_every: float = 0.5  # the longest an idle simulator process waits before it looks again

    @classmethod
    def from_settings(cls, settings: SimulatorSettings) -> SimulatorConfig:
        """The ``CBEC_SIMULATOR_*`` part of the settings tree (``cbec run simulator``)."""
        return cls(accept_delay=settings.delay, first_delay=settings.first_delay,
                   conclude_delay=settings.conclude_delay, release_delay=settings.release_delay,
                   inspection_delay=settings.inspection_delay, close_delay=settings.close_delay,
                   inspection_rate=settings.inspection_rate, rejection_rate=settings.rejection_rate,
                   lost_rate=settings.lost_rate, duplicate_rate=settings.duplicate_rate, verify=settings.verify,
                   poll_every=settings.poll_every)


@dataclass
class _Record:
    """One document customs holds, with its receipts (status, due time) as planned."""

    doc_type: str
    doc: dict[str, Any]
    guid: str
    planned: list[tuple[float, int, str]] = field(default_factory=list)  # (due, status, info)
    invt_no: str = ""

    def status(self, at: float) -> int | None:
        passed = [s for due, s, _ in self.planned if due <= at]
        return passed[-1] if passed else None

    @property
    def rejected(self) -> bool:
        return any(s == REJECTED or s < 0 for _, s, _ in self.planned)


class CustomsSimulator:
    """Customs behind a file drop: one answer per file, receipts in the order customs would send them."""

    def __init__(
        self,
        outbox: Path,
        inbox: Path,
        *,
        verify: Callable[[bytes], Verdict] = verify_with_product_verifier,
        config: SimulatorConfig | None = None,
        journal: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.verify = verify
        self.config = config or SimulatorConfig()
        self.clock = clock
        self.now = now
        self.rng = rng or random.Random(7)
        self.journal = journal
        self.seen: set[str] = set()
        self.arrivals: list[tuple[str, str, str]] = []  # (file name, message type, business key)
        self.clearance_arrivals: dict[str, list[str]] = defaultdict(list)  # "ebp:orderNo" → doc types
        self.records: dict[tuple[str, tuple[str, ...]], _Record] = {}
        self._by_field: dict[tuple[str, str, str], dict[tuple[str, tuple[str, ...]], None]] = defaultdict(dict)
        self._rank: dict[tuple[str, tuple[str, ...]], int] = {}  # a key's place in ``records``
        self.annual_used: dict[str, Decimal] = defaultdict(Decimal)
        self.lost: list[tuple[str, int]] = []  # (receipt type, status) never written
        self._faults_used: set[tuple[str, str]] = set()
        self._queue: list[_Pending] = []
        self._seq = 0
        self._invt_seq = 0
        self._pre_nos: dict[tuple[str, tuple[str, ...]], str] = {}
        self._last_stamp: datetime | None = None
        self._silent = False
        self._stuck: set[str] = set()  # answered but could not be moved: not read again
        self._sync_pool: ThreadPoolExecutor | None = None
        self.export = ExportDesk(self)
        self.tax_bills: dict[str, tax_desk.TaxBill] = {}  # invtNo → the tax bill customs issued for the list
        self._tax_reply: dict[str, tuple[str, str]] = {}  # invtNo → (DXP id, copCode) its messages go to
        self._tax_due: dict[str, float] = {}  # invtNo → when its bill is (was) written (``clock``)
        self._settlements = 0
        if journal is not None and journal.exists():
            self._rebuild(journal.read_text(encoding="utf-8").split())

    # -- the loop ---------------------------------------------------------------------------------
    def poll(self) -> int:
        """Answer every new outbox file (then journal it and take it out of the outbox), then write
        the receipts that are due; returns work done."""
        taken: list[tuple[str, Path]] = []
        for name in waiting_files(self.outbox):
            if name in self._stuck:
                continue
            try:
                raw = (self.outbox / name).read_bytes()
            except FileNotFoundError:
                continue
            self._answer(name, raw)
            taken.append((name, self._taken_path(name)))
        if taken:
            self._remember(taken)
            for name, dest in taken:
                self._take(name, dest)
        return len(taken) + self._flush_due()

    @property
    def idle(self) -> bool:
        return not self._queue

    def idle_for(self) -> float:
        """How long the simulator process may wait: until the next receipt is due, at most ``poll_every``."""
        if not self._queue:
            return self.config.poll_every
        return max(0.0, min(self.config.poll_every, self._queue[0].due - self.clock()))

    def due_in(self) -> float | None:
        """Seconds until the next planned receipt is due (0 when overdue); None when none is planned."""
        if not self._queue:
            return None
        return max(0.0, self._queue[0].due - self.clock())

    def run_forever(self, interval: float = 0.2, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            if not self.poll():
                time.sleep(interval)

    def status_of(self, doc_type: str, key: tuple[str, ...]) -> int | None:
        """The status customs has for a document now (None: customs does not know it)."""
        record = self.records.get((doc_type, key))
        return record.status(self.clock()) if record else None

    # -- answering --------------------------------------------------------------------------------
    def _answer(self, name: str, raw: bytes) -> None:
        try:
            envelope = dxp.unwrap(raw)
        except Exception as exc:  # noqa: BLE001 - any unreadable envelope is a format error
            self._format_error(name, "", "", f"DxpMsg unreadable: {exc}", "0001", reply_to="")
            return
        business = envelope.data
        if envelope.msg_type.removesuffix("Message") in SIGNATURE_MISSING_CODE and b"Signature" not in business:
            self._unsigned(envelope.msg_type.removesuffix("Message"), business, envelope.sender_id)
            return
        export = is_export(envelope.msg_type.removesuffix("Message"))
        problems = xsd_errors(business, "export" if export else "import") if self.config.verify else []
        if problems:
            self._format_error(name, envelope.cop_msg_id, envelope.msg_type, "; ".join(problems[:3]), "0002",
                               reply_to=envelope.sender_id)
            return
        msg = codec.parse(business)
        doc_type = TYPES.get(msg.type)
        if doc_type is None:
            self._format_error(name, envelope.cop_msg_id, envelope.msg_type, f"{msg.type} is not accepted here",
                               "0999", reply_to=envelope.sender_id)
            return
        verdict = self.verify(business) if self.config.verify else Verdict(True)
        cop_code = (msg.base_transfer or {}).get("copCode", "0000000000")
        if not verdict.ok and msg.type not in SIGNATURE_FAILURE_CODE:
            self._format_error(name, envelope.cop_msg_id, envelope.msg_type,
                               f"signature check failed: {verdict.reason}", "1001", reply_to=envelope.sender_id)
            return
        for doc in msg.docs:
            key = doc_type.business_key(doc)
            self.arrivals.append((name, msg.type, ":".join(key)))
            for clearance in self._clearances_of(doc_type, doc):
                self.clearance_arrivals[clearance].append(msg.type)
            if not verdict.ok:
                missing = msg.signature is None
                code = (SIGNATURE_MISSING_CODE if missing else SIGNATURE_FAILURE_CODE)[msg.type]
                self._plan(doc_type, doc, [(0.0, int(code), f"签名验证失败: {verdict.reason}")],
                           envelope.sender_id, cop_code, record="refused")
                continue
            self._check_document(doc_type, doc, msg, envelope.sender_id, cop_code)

    def _unsigned(self, code: str, business: bytes, reply_to: str) -> None:
        """A list, cancel or return without ds:Signature: the type's "signature is empty" code."""
        try:
            msg = codec.parse(business, strict=False)
        except Exception:  # noqa: BLE001 - unreadable: answered as a format error instead
            self._format_error("", "", f"{code}Message", "unsigned and unreadable", "0001", reply_to)
            return
        doc_type = BY_CODE[code]
        cop_code = (msg.base_transfer or {}).get("copCode", "0000000000")
        for doc in msg.docs:
            self._plan(doc_type, doc, [(0.0, int(SIGNATURE_MISSING_CODE[code]), "签名信息为空")], reply_to,
                       cop_code, record="none")

    def _check_document(self, doc_type: DocType, doc: dict[str, Any], msg: CebMessage, reply_to: str,
                        cop_code: str) -> None:
        code = doc_type.code
        key = doc_type.business_key(doc)
        head = doc_type.head_of(doc)
        existing = self.records.get((code, key))
        if existing is not None and existing.guid == head.get("guid") and not existing.rejected:
            # The same document again (a resend): customs repeats where it stands.
            status = existing.status(self.clock()) or 2
            info = next((i for _, s, i in reversed(existing.planned) if s == status), "")
            self._plan(doc_type, doc, [(0.0, status, info)], reply_to, cop_code, record="none", repeat=True)
            return
        change = head.get("appType") == "2"
        if existing is not None and not existing.rejected and not change:
            duplicate, why = self.export.duplicate(code) if is_export(code) else \
                (DUPLICATE_CODE[code], "已存在相同编号的单证")
            self._refuse(doc_type, doc, duplicate, why, reply_to, cop_code)
            return
        if is_export(code):
            refusal = self.export.refusal(doc_type, doc)
            if refusal:
                self._refuse(doc_type, doc, str(REJECTED), refusal, reply_to, cop_code)
                return
        if change and code in LOCKED_CODE and self._list_declared(head):
            self._refuse(doc_type, doc, LOCKED_CODE[code], "清单已申报，状态不符", reply_to, cop_code)
            return
        missing = self._missing_prerequisites(doc_type, doc)
        if missing:
            self._refuse(doc_type, doc, str(REJECTED), f"海关退单: 未找到已入库的{missing}", reply_to, cop_code)
            return
        state_error = self._state_error(doc_type, head)
        if state_error:
            self._refuse(doc_type, doc, state_error[0], state_error[1], reply_to, cop_code)
            return
        errors = validate(CebMessage(type=msg.type, docs=[doc], guid=msg.guid, base_transfer=msg.base_transfer,
                                     signature=msg.signature), self._related(doc_type, doc))
        if errors:
            first = errors[0]
            refusal = first.code if _is_customs_code(first.code) else CHECK_FAILED_CODE[code]
            info = "; ".join(f"{e.code} {e.message}" for e in errors[:3])
            self._refuse(doc_type, doc, refusal, info, reply_to, cop_code)
            return
        self._accept(doc_type, doc, reply_to, cop_code)

    def _accept(self, doc_type: DocType, doc: dict[str, Any], reply_to: str, cop_code: str) -> None:
        c = self.config
        code = doc_type.code
        head = doc_type.head_of(doc)
        fault = self._fault(code, head)
        if is_export(code):
            self._plan(doc_type, doc, self.export.plan(code), reply_to, cop_code, lose_all=fault == "lose")
            if code == "CEB701" and fault != "lose":
                self._summary_result(doc_type, doc, reply_to, cop_code)
            return
        t = c.first_delay
        plan: list[tuple[float, int, str]] = [(t, 2, "电子口岸申报中")]
        if fault == "reject" or (fault is None and self.rng.random() < c.rejection_rate):
            plan.append((t + c.accept_delay, REJECTED, "海关退单: 申报要素与实际不符(模拟)"))
            self._plan(doc_type, doc, plan, reply_to, cop_code, lose_all=fault == "lose")
            return
        t += c.accept_delay
        plan.append((t, 120, "海关入库"))
        if code in ("CEB621", "CEB623", "CEB625"):
            if code == "CEB621" and (fault == "inspect" or (fault is None and self.rng.random() < c.inspection_rate)):
                t += c.conclude_delay
                plan.append((t, 500, "查验"))
                t += c.inspection_delay
            t += c.conclude_delay
            plan.append((t, 399, "海关审结"))
            if code == "CEB621":
                t += c.release_delay
                plan.append((t, 800, "放行"))
                if c.close_delay is not None:
                    plan.append((t + c.close_delay, 899, "结关"))
                self._count_annual(doc)
        self._plan(doc_type, doc, plan, reply_to, cop_code, lose_all=fault == "lose")
        if code == "CEB621" and plan[-1][1] in (800, 899) and c.tax_delay is not None and fault != "lose":
            released = max(due for due, status, _ in plan if status == 800)
            self._issue_tax_bill(doc_type, doc, released + c.tax_delay, reply_to, cop_code)
        if code in ("CEB623", "CEB625") and plan[-1][1] == 399:  # a cancelled or returned list owes no tax
            self._void_tax_bill(str(head.get("invtNo", "")), plan[-1][0])

    def _issue_tax_bill(self, doc_type: DocType, doc: dict[str, Any], due: float, reply_to: str,
                        cop_code: str) -> None:
        """The released list's electronic tax bill (CEB816), due ``due`` seconds from now."""
        record = self.records.get((doc_type.code, doc_type.business_key(doc)))
        if record is None or not record.invt_no:
            return
        bill = tax_desk.tax_bill(doc, record.invt_no, len(self.tax_bills) + 1)
        self.tax_bills[record.invt_no] = bill
        self._tax_reply[record.invt_no] = (reply_to, cop_code)
        self._tax_due[record.invt_no] = self.clock() + due
        if not self._silent:
            self._schedule(due, "CEB816", tax_desk.bill_node(bill), reply_to, cop_code)

    def _void_tax_bill(self, invt_no: str, due: float) -> None:
        """The list's tax bill voided (CEB818 status 3) once its cancel or return is concluded."""
        bill = self.tax_bills.get(invt_no)
        if bill is None or bill.status == tax_desk.VOID:
            return
        bill = tax_desk.with_status(bill, tax_desk.VOID)
        self.tax_bills[invt_no] = bill
        if not self._silent:  # never before the bill itself (a cancel concluded within tax_delay)
            reply_to, cop_code = self._tax_reply[invt_no]
            due = max(due, self._tax_due.get(invt_no, 0.0) - self.clock())
            self._schedule(due, "CEB818", tax_desk.status_node(bill), reply_to, cop_code)

    def settle_taxes(self, invt_nos: list[str] | None = None, status: str = tax_desk.SUMMARISED) -> int:
        """A test hook for the end of a settlement period: the generated tax bills (of ``invt_nos``, else
        all) are summarised into one payment notice (status 2, one entDutyNo), or voided (status 3), and a
        CEB818 reports each; returns how many."""
        self._settlements += 1
        ent_duty_no = f"{self.now().astimezone(CST):%Y%m%d}D{self._settlements:06d}"
        changed = 0
        for invt_no, bill in list(self.tax_bills.items()):
            if bill.status != tax_desk.GENERATED or (invt_nos is not None and invt_no not in invt_nos):
                continue
            bill = tax_desk.with_status(bill, status, ent_duty_no if status == tax_desk.SUMMARISED else "")
            self.tax_bills[invt_no] = bill
            reply_to, cop_code = self._tax_reply[invt_no]
            self._schedule(0.0, "CEB818", tax_desk.status_node(bill), reply_to, cop_code)
            changed += 1
        return changed

    def _summary_result(self, doc_type: DocType, doc: dict[str, Any], reply_to: str, cop_code: str) -> None:
        """After a summary is concluded, customs issues its CEB792 汇总结果单 (not a receipt)."""
        if self._silent:
            return
        due = self.export.plan(doc_type.code)[-1][0] + self.config.conclude_delay
        node = self.export.summary_result(doc, self.export.sum_no(doc_type, doc_type.head_of(doc)), due)
        self._schedule(due, "CEB792", node, reply_to, cop_code)

    def _refuse(self, doc_type: DocType, doc: dict[str, Any], status: str, info: str, reply_to: str,
                cop_code: str) -> None:
        self._plan(doc_type, doc, [(0.0, int(status), info[:1000])], reply_to, cop_code, record="refused")

    def _plan(self, doc_type: DocType, doc: dict[str, Any], plan: list[tuple[float, int, str]], reply_to: str,
              cop_code: str, *, record: str = "accepted", lose_all: bool = False, repeat: bool = False) -> None:
        """Store the document and queue its receipts.

        ``record``: ``accepted`` stores it; ``refused`` remembers a refusal of a key customs does not
        hold yet (so a corrected version is not taken for a duplicate); ``none`` stores nothing.
        ``repeat``: the answer to a resend, never lost (``lost_rate`` loses a receipt once).
        """
        head = doc_type.head_of(doc)
        now = self.clock()
        entry: _Record | None = None
        if record == "accepted":
            entry = _Record(doc_type.code, doc, str(head.get("guid", "")),
                            [(now + due, status, info) for due, status, info in plan])
            if doc_type.code in NUMBERED:
                previous = self.records.get((doc_type.code, doc_type.business_key(doc)))
                entry.invt_no = previous.invt_no if previous and previous.invt_no else \
                    self._new_invt_no(head, "E" if is_export(doc_type.code) else "I")
            self._store(doc_type, doc, entry)
            if entry.invt_no:
                self._by_field[(doc_type.code, LIST_NUMBER, entry.invt_no)][
                    (doc_type.code, doc_type.business_key(doc))] = None
        elif record == "refused":
            key = (doc_type.code, doc_type.business_key(doc))
            if key not in self.records:
                self._store(doc_type, doc, _Record(doc_type.code, doc, str(head.get("guid", "")),
                                                   [(now, plan[0][1], plan[0][2])]))
        invt_no = entry.invt_no if entry else self._invt_no_of(doc_type, head)
        for due, status, info in plan:
            if lose_all:
                self.lost.append((doc_type.receipt_code, status))
                continue
            if not self._silent and not repeat and self.rng.random() < self.config.lost_rate and status != 2:
                self.lost.append((doc_type.receipt_code, status))
                continue
            copies = 2 if self.rng.random() < self.config.duplicate_rate else 1
            for _ in range(copies):
                self._receipt(doc_type, head, str(status), info, due, reply_to, cop_code, invt_no)

    # -- rules that need the customs database ------------------------------------------------------
    def _fault(self, code: str, head: dict[str, Any]) -> str | None:
        key = (code, str(head.get("orderNo", "")))
        fault = self.config.faults.get(key)
        if fault is None or key in self._faults_used:
            return None
        self._faults_used.add(key)
        return fault

    def _store(self, doc_type: DocType, doc: dict[str, Any], record: _Record) -> None:
        """Keep ``record`` under its business key, indexed by the head fields :meth:`_find` looks up."""
        key = (doc_type.code, doc_type.business_key(doc))
        self._rank.setdefault(key, len(self._rank))
        self.records[key] = record
        head = doc_type.head_of(doc)
        for name in INDEXED_FIELDS:
            value = head.get(name)
            if isinstance(value, str) and value:
                self._by_field[(doc_type.code, name, value)][key] = None

    def _find(self, code: str, **fields: str) -> _Record | None:
        """The first record of ``code`` (in the order they were first stored) not rejected whose head
        has ``fields``; looked up through the index of its first field, so the cost does not grow
        with the number of records."""
        first = next(iter(fields.items()), None)
        if first is None or first[0] not in INDEXED_FIELDS:
            candidates = [key for key in self.records if key[0] == code]
        else:
            candidates = sorted(self._by_field.get((code, first[0], first[1]), ()), key=self._rank.__getitem__)
        for key in candidates:
            record = self.records[key]
            if record.rejected:
                continue
            head = TYPES[code].head_of(record.doc)
            if all(head.get(k) == v for k, v in fields.items()):
                return record
        return None

    def find(self, code: str, **fields: str) -> _Record | None:
        """The first accepted (not rejected) record of ``code`` whose head has ``fields``."""
        return self._find(code, **fields)

    def list_numbered(self, code: str, invt_no: str) -> _Record | None:
        """The list of type ``code`` customs gave number ``invt_no`` (None: none)."""
        for key in sorted(self._by_field.get((code, LIST_NUMBER, invt_no), ()), key=self._rank.__getitem__):
            record = self.records[key]
            if not record.rejected and invt_no and record.invt_no == invt_no:
                return record
        return None

    def _missing_prerequisites(self, doc_type: DocType, doc: dict[str, Any]) -> str:
        head = doc_type.head_of(doc)
        order_no = str(head.get("orderNo", ""))
        if doc_type.code == "CEB511":
            missing = [name for code, name in (("CEB311", "订单"), ("CEB411", "支付单"))
                       if self._find(code, orderNo=order_no) is None]
            return "、".join(missing)
        if doc_type.code == "CEB621":
            if self._find("CEB511", logisticsNo=str(head.get("logisticsNo", ""))) is None:
                return "运单"
        if doc_type.code == "CEB711":
            nos = [str(line.get("logisticsNo", "")) for line in _lines(doc, "DeliveryList")]
            missing = [n for n in nos if self._find("CEB621", logisticsNo=n) is None]
            return ("清单(运单号 " + ", ".join(missing) + ")") if missing else ""
        return ""

    def _state_error(self, doc_type: DocType, head: dict[str, Any]) -> tuple[str, str] | None:
        if doc_type.code not in ("CEB623", "CEB625"):
            return None
        listed = self._list_of(head)
        if listed is None:
            return ("-623003", "系统中不存在该清单") if doc_type.code == "CEB623" else ("-625018", "未找到清单")
        status = listed.status(self.clock())
        if doc_type.code == "CEB623" and status != 800:
            return "-623005", f"清单的状态不符合撤单申报要求(清单状态 {status})"
        if doc_type.code == "CEB625" and status not in (800, 899):
            return "-625004", f"退货申请单申报失败: 清单状态 {status}"
        return None

    def _list_of(self, head: dict[str, Any]) -> _Record | None:
        invt_no = str(head.get("invtNo", ""))
        for key in sorted(self._by_field.get(("CEB621", LIST_NUMBER, invt_no), ()), key=self._rank.__getitem__):
            record = self.records[key]
            if not record.rejected and invt_no and record.invt_no == invt_no:
                return record
        return self._find("CEB621", orderNo=str(head.get("orderNo", "")), ebpCode=str(head.get("ebpCode", "")))

    def _list_declared(self, head: dict[str, Any]) -> bool:
        order_no = str(head.get("orderNo", ""))
        return self._find("CEB621", orderNo=order_no) is not None

    def _related(self, doc_type: DocType, doc: dict[str, Any]) -> RelatedDocs:
        head = doc_type.head_of(doc)
        order_no = str(head.get("orderNo", ""))
        related = RelatedDocs(annual_used=dict(self.annual_used))
        if order_no:
            for code, bucket in (("CEB311", related.orders), ("CEB411", related.payments),
                                 ("CEB511", related.waybills)):
                found = self._find(code, orderNo=order_no)
                if found is not None and code != doc_type.code:
                    bucket.append(found.doc)
            if doc_type.code in ("CEB623", "CEB625"):
                listed = self._list_of(head)
                if listed is not None:
                    related.inventories.append(listed.doc)
                    related.list_status[listed.invt_no] = str(listed.status(self.clock()) or "")
        return related

    def _count_annual(self, doc: dict[str, Any]) -> None:
        head = doc.get("InventoryHead", {})
        buyer = str(head.get("buyerIdNumber", ""))
        try:
            amount = sum((Decimal(str(x.get("totalPrice", "0"))) for x in _lines(doc, "InventoryList")),
                         Decimal(0)) + Decimal(str(head.get("freight") or "0")) + Decimal(
                str(head.get("insuredFee") or "0"))
        except InvalidOperation:
            return
        if buyer:
            self.annual_used[buyer] += amount

    def _new_invt_no(self, head: dict[str, Any], flow: str = "I") -> str:
        """关区 (4) + year (4) + I/E + a serial: the list number customs assigns (REV22: C..20)."""
        self._invt_seq += 1
        customs = str(head.get("customsCode", "0000"))[:4].ljust(4, "0")
        return f"{customs}{self.now().astimezone(CST):%Y}{flow}{self._invt_seq:09d}"

    def _pre_no(self, doc_type: DocType, head: dict[str, Any]) -> str:
        """The e-port pre-entry number customs gives every list, cancel and return (stable per key)."""
        key = (doc_type.code, doc_type.business_key({doc_type.head: head} if doc_type.head else head))
        if key not in self._pre_nos:
            self._pre_nos[key] = f"B{self.now().astimezone(CST):%Y}{len(self._pre_nos) + 1:013d}"
        return self._pre_nos[key]

    def _invt_no_of(self, doc_type: DocType, head: dict[str, Any]) -> str:
        if doc_type.code in NUMBERED:
            return ""
        return str(head.get("invtNo", ""))

    def _clearances_of(self, doc_type: DocType, doc: dict[str, Any]) -> list[str]:
        if is_export(doc_type.code):
            return self.export.clearances_of(doc_type, doc)
        head = doc_type.head_of(doc)
        order_no = str(head.get("orderNo", ""))
        if doc_type.code == "CEB711":
            out = []
            for line in _lines(doc, "DeliveryList"):
                listed = self._find("CEB621", logisticsNo=str(line.get("logisticsNo", "")))
                if listed is not None:
                    lh = listed.doc.get("InventoryHead", {})
                    out.append(f"{lh.get('ebpCode', '')}:{lh.get('orderNo', '')}")
            return out
        if not order_no:
            return []
        ebp = str(head.get("ebpCode", ""))
        if not ebp:
            order = self._find("CEB311", orderNo=order_no)
            ebp = str(order.doc["OrderHead"].get("ebpCode", "")) if order else ""
        return [f"{ebp}:{order_no}"]

    # -- writing receipts --------------------------------------------------------------------------
    def _receipt(self, doc_type: DocType, head: dict[str, Any], status: str, info: str, due: float,
                 reply_to: str, cop_code: str, invt_no: str = "") -> None:
        if self._silent:
            return
        node: dict[str, Any] = {}
        schema = EXPORT if is_export(doc_type.code) else IMPORT
        for item in schema.nodes[doc_type.return_node].items:
            if item.name == "returnStatus":
                node[item.name] = status
            elif item.name == "returnTime":
                node[item.name] = ""  # stamped when written, so later receipts carry later times
            elif item.name == "returnInfo":
                node[item.name] = info
            elif item.name == "invtNo" and invt_no:
                node[item.name] = invt_no
            elif item.name == "preNo":
                node[item.name] = self._pre_no(doc_type, head)
            elif item.name == "sumNo" and doc_type.code == "CEB701":
                node[item.name] = self.export.sum_no(doc_type, head)
            elif item.name in head:
                node[item.name] = head[item.name]
            elif schema is EXPORT and item.min_occurs:  # e.g. the invtNo of a list refused before it got one
                node[item.name] = ""
        self._schedule(due, doc_type.receipt_code, node, reply_to, cop_code)

    def _format_error(self, name: str, cop_msg_id: str, msg_type: str, info: str, code: str,
                      reply_to: str) -> None:
        if self._silent:
            return
        node = {
            "guid": str(uuid.uuid4()).upper(),
            "returnStatus": code,
            "returnInfo": info[:1000],
            "returnTime": "",
            "oriCopMsgId": cop_msg_id or name,
            "oriMessageType": msg_type or "unknown",
            "oriBizMessage": name,
        }
        self._schedule(0.0, "CEB900", node, reply_to, "0000000000")

    def _schedule(self, delay: float, receipt_type: str, node: dict[str, Any], reply_to: str,
                  cop_code: str) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Pending(self.clock() + delay, self._seq, receipt_type, dict(node), reply_to,
                                             cop_code))

    def _flush_due(self) -> int:
        """Write the receipts that are due, together (one folder sync); returns how many."""
        files: list[tuple[str, bytes]] = []
        names: set[str] = set()
        while self._queue and self._queue[0].due <= self.clock():
            item = heapq.heappop(self._queue)
            node = item.node
            if "SummaryResultHead" in node:  # a CEB792: issued now
                node["SummaryResultHead"]["opDate"] = self._return_time()
            elif "TaxHeadRd" in node or "TaxHeadStatus" in node:  # a CEB816 / CEB818
                node["TaxHeadRd" if "TaxHeadRd" in node else "TaxHeadStatus"]["returnTime"] = self._return_time()
            else:
                node["returnTime"] = self._return_time()
            msg = CebMessage(type=item.receipt_type, docs=[node], guid=str(uuid.uuid4()).upper())
            business = codec.build(msg)
            when = self.now()
            customs_id = CUSTOMS_EXPORT_DXP_ID if is_export_receipt(item.receipt_type) else CUSTOMS_IMPORT_DXP_ID
            wrapped = dxp.wrap(business, msg_type=f"{item.receipt_type}Message", sender_id=customs_id,
                               receiver_ids=[item.reply_to or "DXPENT0000000000"], created=when)
            name = seed_file_name(item.receipt_type, item.cop_code[:10], when, self.rng.randrange(100000))
            while name in names or (self.inbox / name).exists():
                name = seed_file_name(item.receipt_type, item.cop_code[:10], when, self.rng.randrange(100000))
            names.add(name)
            files.append((name, wrapped))
        if files:
            if len(files) > 1 and self._sync_pool is None:
                self._sync_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="simulator-sync")
            write_all_atomically(self.inbox, files, self._sync_pool)
        return len(files)

    def _return_time(self) -> str:
        """yyyyMMddHHmmssSSS in CST, strictly increasing so receipt order is never ambiguous."""
        now = self.now().astimezone(CST).replace(tzinfo=None)
        stamp = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last_stamp is not None and stamp <= self._last_stamp:
            stamp = self._last_stamp + timedelta(milliseconds=1)  # a real instant: 59.999 + 1 ms is the next minute
        self._last_stamp = stamp
        return stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"

    def _taken_path(self, name: str) -> Path:
        """Where an answered file goes: ``taken/<day>/<name>`` (``<name>.N`` if that is taken)."""
        folder = self.outbox / TAKEN / self.now().strftime("%Y-%m-%d")
        dest, n = folder / name, 0
        while dest.exists():
            n += 1
            dest = folder / f"{name}.{n}"
        return dest

    def _take(self, name: str, dest: Path) -> None:
        """Move an answered file out of the outbox to ``dest``."""
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.outbox / name, dest)
        except FileNotFoundError:
            pass  # gone meanwhile
        except OSError as error:
            log.warning("cannot take %s out of the outbox (%s); not reading it again", name, type(error).__name__)
            self._stuck.add(name)

    def _remember(self, taken: list[tuple[str, Path]]) -> None:
        """Journal the files answered (where they will rest), before they are moved there."""
        self.seen.update(name for name, _ in taken)
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write("".join(f"{dest.relative_to(self.outbox).as_posix()}\n" for _, dest in taken))

    def _rebuild(self, lines: list[str]) -> None:
        """Re-read the files answered before a restart to rebuild the database, writing nothing. A file
        journaled but still in the outbox (a crash before the move) is moved now, not answered again."""
        self._silent = True
        try:
            for line in lines:
                path, name = self.outbox / line, Path(line).name
                if path.parent == self.outbox:  # a line of a simulator that left the files in the outbox
                    path = self._taken_path(name) if path.exists() else path
                if not path.exists() and (self.outbox / name).exists():  # journaled, not moved yet
                    self._take(name, path)
                if path.exists():
                    self._answer(name, path.read_bytes())
                self.seen.add(name)
        finally:
            self._silent = False
            self.arrivals.clear()
            self.clearance_arrivals.clear()


_EXPORT_RECEIPTS = frozenset({d.receipt_code for d in EXPORT_BY_CODE.values()} | {"CEB792"})


def is_export_receipt(receipt_type: str) -> bool:
    return receipt_type in _EXPORT_RECEIPTS


def dropped_files(outbox: Path) -> list[Path]:
    """Every file dropped in ``outbox``: those waiting and those the simulator took, in name order."""
    waiting = [outbox / name for name in waiting_files(outbox)]
    return sorted([*waiting, *outbox.glob(f"{TAKEN}/*/*.xml*")], key=lambda p: p.name)


def answered_files(journal: Path, outbox: Path) -> list[Path]:
    """The files a simulator with this journal answered, in the order it answered them."""
    if not journal.exists():
        return []
    return [outbox / line for line in journal.read_text(encoding="utf-8").split()]




def _lines(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    lines = doc.get(name, [])
    return [x for x in (lines if isinstance(lines, list) else [lines]) if isinstance(x, dict)]


def _is_customs_code(code: str) -> bool:
    return code.startswith("-") and code[1:].isdigit()


def run_process(settings: Settings) -> None:
    """``cbec run simulator``: the simulator as its own process on the DXP outbox/inbox folders, on the
    same process runtime (readiness, shutdown, crash exit) as every service; with
    ``CBEC_CUSTOMS_TRANSPORT=amqp`` it sits behind the broker (:class:`AmqpCustomsNode`)."""
    from cbec.runtime import Paced, Poller, ServiceProcess

    journal = settings.simulator.journal or settings.dxp.outbox.parent / "simulator-journal.txt"
    simulator = CustomsSimulator(settings.dxp.outbox, settings.dxp.inbox, journal=journal,
                                 config=SimulatorConfig.from_settings(settings.simulator),
                                 rng=random.Random(settings.simulator.seed))
    pollers: list[Poller | Paced] = [Paced(simulator.poll, simulator.idle_for)]
    link = settings.link
    if link.default_kind == "amqp" and link.amqp_url is not None:
        # customs behind the DXP node's broker: the node carries messages to and from the simulator's folders
        from cbec_testkit.customs.amqp_node import AmqpCustomsNode

        node = AmqpCustomsNode(link.amqp_url.get_secret_value(), settings.dxp.outbox, settings.dxp.inbox,
                               send_queue=link.amqp_send_queue, receive_exchange=link.amqp_receive_exchange)
        pollers.append(Paced(node.pump, lambda: link.amqp_poll_every))
    ServiceProcess("simulator", pollers=pollers, poll_interval=settings.process.poll_interval,
                   ready_file=settings.process.ready_file, http_port=settings.process.http_port,
                   http_host=settings.process.http_host).run()
