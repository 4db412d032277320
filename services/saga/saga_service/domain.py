"""The clearance saga's process manager: one pure instance per clearance ``(ebpCode, orderNo)``.

It folds what the owning services announce (their public events) and decides what they must do
next: release a held document once its prerequisites reached the gate status, resend a document
customs never answered, refuse a cancel or return the list state does not allow, lock the
clearance once its list is declared, and tell the sender about every status change.

The saga alone owns prerequisites and release decisions (:data:`PREREQUISITES`, :func:`_gate`):
the owning services hold a document at intake and wait for its ReleaseDocument. Statuses are worded
in the platform's one vocabulary (:mod:`cbec.declaration.statuses`); what a held document waits for
is this module's answer (``reason`` of its status message, ``waitingFor`` of the clearance view).

An entry list joins many clearances; its waiting and the index instances that connect it are in
:mod:`saga_service.entry_join`. Everything here is deterministic: time comes in as data (``at``
on every observation and tick).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cbec.contracts.events import (
    EVENT_DATA,
    DeclarationEvent,
    DocumentHeld,
    DocumentReceived,
    DocumentRefused,
    DocumentReleased,
    DocumentSent,
    DocumentSigned,
    DocumentSigningFailed,
    DocumentWithdrawn,
    EventData,
    ReceiptRecorded,
    TaxBillRecorded,
    TaxStatusRecorded,
)
from cbec.declaration import statuses
from cbec.declaration.doctypes import BY_CODE, EXPORT_BY_CODE
from cbec.declaration.receipt_clock import DEFAULT_MAX_SKEW, return_time_problem
from cbec.declaration.statuses import FORMAT_ERROR, is_rejection

from saga_service import export_rules
from saga_service.export_rules import ExportPolicy

# Saga event types (what the saga's own streams hold).
OBSERVED = "UpstreamObserved"
RELEASE_ISSUED = "ReleaseIssued"
RESEND_ISSUED = "ResendIssued"
REFUSAL_ISSUED = "RefusalIssued"
LOCK_ISSUED = "LockIssued"
STATUS_PUBLISHED = "StatusPublished"
ALERT_RAISED = "AlertRaised"
GOODS_LEFT = "GoodsLeftRecorded"
ENTRY_REGISTERED = "EntryRegistered"
MEMBER_AT_GATE = "MemberAtGate"
WAYBILL_INDEXED = "WaybillIndexed"
GROUP_REGISTERED = "GroupRegistered"  # export member: a group document (运抵单 …) names this clearance
MEMBER_READY = "MemberReady"  # export group: a member clearance is where the group needs it
MILESTONE = "MilestoneRecorded"  # export member: a group reached a milestone (arrived, departed …)
MEMBER_LOST = "MemberLost"  # export group: a member clearance can no longer be where the group needs it

FOLLOWED = {**EXPORT_BY_CODE, **BY_CODE}


def kind_of(doc_type: str) -> str | None:
    """The kind (``order``, ``waybill`` …) of a message code the saga follows; None for any other."""
    found = FOLLOWED.get(doc_type)
    return found.kind if found is not None else None


def instance_key(event: DeclarationEvent) -> str:
    """The saga instance an upstream event folds into: its clearance, or an export group's own instance."""
    return export_rules.instance_key(kind_of(event.doc_type), event.clearance_key)


# What each kind waits for before the saga releases it (an entry list: the lists of its waybills).
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "waybill": ("order", "payment"),
    "inventory": ("order", "payment", "waybill"),
}
# Receipt codes after which customs has nothing more to say about a document (for deadlines).
FINAL: dict[str, frozenset[int]] = {
    "inventory": frozenset({800, 899, 700}),
    "cancel": frozenset({399, 800, 899}),
    "return": frozenset({399, 800, 899}),
    export_rules.LIST: frozenset({800, 899, 700}),
    export_rules.CANCEL: frozenset({399, 800, 899}),
    export_rules.RETURN: frozenset({399, 800, 899}),
    export_rules.SUMMARY: frozenset({399}),
}
NOT_PROGRESS = frozenset({1, 4, 100})
RETURN_STATES = frozenset({800, 899})
CANCEL_STATES = frozenset({800})


@dataclass(frozen=True, slots=True)
class Policy:
    """How the saga behaves: the gate status, the receipt deadline and how often to resend."""

    gate: int = 120
    receipt_timeout: timedelta = timedelta(minutes=10)
    max_resends: int = 3
    receipt_max_skew: timedelta = DEFAULT_MAX_SKEW  # a receipt stamped later than now + this is refused
    export: ExportPolicy = ExportPolicy()


@dataclass(slots=True)
class Receipt:
    status: int  # a CEB900's DXP code is kept negative: a failure, never progress
    time: str
    info: str
    receipt_type: str = ""
    duplicate: bool = False  # a duplicate-key answer to a resend: the original is at customs

    @property
    def code(self) -> int:
        """What the receipt means for progress: a duplicate-key answer to a resend counts as accepted."""
        return statuses.ACCEPTED if self.duplicate else self.status

    @property
    def label(self) -> str:
        if self.duplicate:
            return statuses.accepted_earlier(self.status)
        if self.receipt_type == FORMAT_ERROR:
            return statuses.label(abs(self.status), self.receipt_type)
        return statuses.label(self.status)


@dataclass(slots=True)
class Doc:
    """What the saga knows about one document of the clearance."""

    kind: str
    doc_type: str
    stream_id: str = ""
    business_key: list[str] = field(default_factory=list)
    sender: str = ""
    phase: str = "new"
    upstream_version: int = 0
    generation: int = 0  # counts declarations (a correction is a new generation)
    receipts: list[Receipt] = field(default_factory=list)
    history: list[Receipt] = field(default_factory=list)  # receipts of earlier versions
    released_generation: int = -1  # generation for which the saga issued ReleaseDocument
    refused_generation: int = -1
    progress_at: str = ""  # ISO time of the last send or receipt: the deadline counts from here
    resends: int = 0
    alerted: bool = False
    published: str = ""  # the last status told to the sender
    published_reason: str = ""  # and the reason told with it
    intake_errors: list[dict[str, str]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # entry lists: the waybill numbers inside (export groups:
    # the member clearances)
    listed: list[str] = field(default_factory=list)  # export groups: the waybill numbers they list
    original_unanswered: bool = False  # accepted earlier, yet no receipt of the original ever arrived
    trade_mode: str = ""  # export: the list's tradeMode (or the order's, from its orderType)
    order_type: str = ""  # export order: its orderType (E, B, W), paired with the list's tradeMode
    refused_why: str = ""  # the saga's own refusal of it (its errors' messages)
    held_at: str = ""  # ISO time the document was last held at intake (an export group's deadline counts from it)
    strategy: str = ""  # export: the B2B strategy the sender applied (``9710报关单`` …)
    result: dict[str, str] = field(default_factory=dict)  # export summary: the CEB792 (sumNo, entryId, decState)
    tax: dict[str, dict[str, str]] = field(default_factory=dict)  # import list: taxNo -> its latest CEB816/818 status

    latest: Receipt | None = None  # statuses.current(receipts), kept as receipts change (read very often)

    @property
    def current(self) -> Receipt | None:
        return self.latest

    @property
    def status_code(self) -> int | None:
        current = self.current
        return current.code if current else None

    @property
    def accepted_earlier(self) -> bool:
        return self.latest is not None and self.latest.duplicate

    @property
    def status_code_raw(self) -> int | None:
        """The current receipt's own code (a duplicate-key answer keeps its negative code here)."""
        return self.latest.status if self.latest is not None else None

    @property
    def rejected(self) -> bool:
        code = self.status_code
        return code is not None and is_rejection(code)

    def at_gate(self, gate: int) -> bool:
        """Declared: the current receipt is a positive, progressing status at or after the gate."""
        code = self.status_code
        return code is not None and code > 0 and code not in NOT_PROGRESS and code >= gate

    def settled(self, gate: int) -> bool:
        if self.rejected:
            return True
        code = self.status_code
        final = FINAL.get(self.kind)
        if final is None:
            return self.at_gate(gate) or (code is not None and code >= 120 and code not in NOT_PROGRESS)
        return code in final


@dataclass(slots=True)
class Clearance:
    """The folded state of one saga instance."""

    key: str
    version: int = 0
    docs: dict[str, Doc] = field(default_factory=dict)
    goods_left: bool = False
    locked: bool = False
    entries: list[str] = field(default_factory=list)  # entry instances waiting for this list
    members_at_gate: list[str] = field(default_factory=list)  # entry instance: waybills whose list is declared
    indexed: str = ""  # waybill index instance: the clearance the waybill belongs to
    alerts: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)  # export member: group kind -> group instances
    ready: list[str] = field(default_factory=list)  # export group: "<kind>|<member clearance>" where it needs them
    milestones: dict[str, str] = field(default_factory=dict)  # export member: arrived/departed/… -> when
    lost: dict[str, str] = field(default_factory=dict)  # export group: "<kind>|<member>|<generation>" -> why
    # the member can no longer qualify for that declaration of the group
    export_policy: ExportPolicy = field(default=ExportPolicy(), compare=False)  # configuration, not state

    # -- folding -----------------------------------------------------------------------------
    def apply(self, event_type: str, data: dict[str, Any]) -> None:
        self.version += 1
        if event_type == OBSERVED:
            self._observe(data)
        elif event_type == RELEASE_ISSUED:
            self.docs[data["kind"]].released_generation = int(data["generation"])
        elif event_type == REFUSAL_ISSUED:
            refused = self.docs[data["kind"]]
            refused.refused_generation = int(data["generation"])
            refused.refused_why = "; ".join(str(e.get("message", "")) for e in data.get("errors") or [])
        elif event_type == RESEND_ISSUED:
            doc = self.docs[data["kind"]]
            doc.resends = int(data["attempt"])
            doc.progress_at = data["at"]
        elif event_type == ALERT_RAISED:
            if data.get("kind") in self.docs:
                self.docs[data["kind"]].alerted = True
            self.alerts.append(str(data["reason"]))
        elif event_type == STATUS_PUBLISHED:
            doc = self.docs[data["kind"]]
            doc.published, doc.published_reason = data["status"], str(data.get("reason", ""))
        elif event_type == LOCK_ISSUED:
            self.locked = True
        elif event_type == GOODS_LEFT:
            self.goods_left = True
        elif event_type == ENTRY_REGISTERED:
            if data["entryKey"] not in self.entries:
                self.entries.append(data["entryKey"])
        elif event_type == MEMBER_AT_GATE:
            if data["logisticsNo"] not in self.members_at_gate:
                self.members_at_gate.append(data["logisticsNo"])
        elif event_type == WAYBILL_INDEXED:
            self.indexed = str(data["clearanceKey"])
        elif event_type == GROUP_REGISTERED:
            keys = self.groups.setdefault(str(data["kind"]), [])
            if data["groupKey"] not in keys:
                keys.append(str(data["groupKey"]))
        elif event_type == MEMBER_READY:
            ready = f"{data.get('kind', '')}|{data['memberKey']}"
            if ready not in self.ready:
                self.ready.append(ready)
        elif event_type == MILESTONE:
            self.milestones.setdefault(str(data["milestone"]), str(data["at"]))
        elif event_type == MEMBER_LOST:
            self.lost.setdefault(f"{data['kind']}|{data['memberKey']}|{data.get('generation', 0)}", str(data["reason"]))

    def _observe(self, data: dict[str, Any]) -> None:
        # Dispatched on the payload class, read from the slimmed envelope's plain fields (see _slim):
        # folding runs for every stored event of every instance loaded, so it builds no payload objects.
        event = data["event"]
        doc_type = str(event.get("docType", ""))
        kind = kind_of(doc_type)
        assert kind is not None  # observe() lets only followed types through
        fields: dict[str, Any] = event.get("data") or {}
        payload = EVENT_DATA.get(str(event.get("type", "")), EventData)
        doc = self.docs.get(kind)
        stream_id = str(event.get("streamId", ""))
        if doc is None or (stream_id and doc.stream_id and stream_id != doc.stream_id):
            previous = doc
            doc = Doc(kind, doc_type, stream_id=stream_id)
            if previous is not None:
                doc.generation = previous.generation + 1
                doc.published, doc.published_reason = previous.published, previous.published_reason
            self.docs[kind] = doc
        doc.upstream_version = int(event.get("version", doc.upstream_version + 1))
        business_key = fields.get("businessKey")
        if business_key:
            doc.business_key = [str(k) for k in business_key]
        elif not doc.business_key and kind == "order":
            doc.business_key = self.key.split(":", 1)
        logistics_nos = fields.get("logisticsNos")
        if kind == "entry" and logistics_nos:
            doc.members = [str(k) for k in logistics_nos]
        clearance_keys = fields.get("clearanceKeys")
        if kind in export_rules.GROUPS and clearance_keys:
            doc.members = [str(k) for k in clearance_keys]
        if kind in export_rules.GROUPS and logistics_nos:
            doc.listed = [str(k) for k in logistics_nos]
        if fields.get("tradeMode") or fields.get("orderType"):
            doc.trade_mode = str(fields.get("tradeMode") or export_rules.ORDER_TYPES.get(str(fields["orderType"]), ""))
        if fields.get("orderType"):
            doc.order_type = str(fields["orderType"])
        if fields.get("strategy"):
            doc.strategy = str(fields["strategy"])
        if event.get("type") == export_rules.SUMMARY_RESULT:
            doc.result = {k: str(fields[k]) for k in ("sumNo", "entryId", "decState") if fields.get(k) is not None}
            return
        if issubclass(payload, (TaxBillRecorded, TaxStatusRecorded)):  # customs' tax bill of a list: shown only
            tax_no, time = str(fields["taxNo"]), str(fields["returnTime"])
            if time >= doc.tax.get(tax_no, {}).get("statusTime", ""):
                doc.tax[tax_no] = {"status": str(fields["status"]), "statusTime": time}
            return
        if issubclass(payload, DocumentReceived):
            if doc.phase not in ("new", "refused"):
                # A change (e.g. a correction after a rejection): a new version to carry through;
                # the previous version's receipts become history.
                doc.generation += 1
                doc.history.extend(doc.receipts)
                doc.receipts, doc.latest = [], None
            doc.phase = "received"
            doc.sender = str(fields.get("sender") or doc.sender)
            doc.resends, doc.alerted, doc.progress_at, doc.intake_errors = 0, False, "", []
            doc.original_unanswered = False
        elif issubclass(payload, DocumentRefused):
            if doc.phase in ("new", "refused") or fields.get("refusesDocument"):
                doc.phase = "refused"
            doc.sender = doc.sender or str(fields.get("sender") or "")
            doc.intake_errors = list(fields.get("errors") or [])
        elif issubclass(payload, DocumentHeld):
            doc.phase = "held"
            doc.held_at = str(data.get("at") or doc.held_at)
        elif issubclass(payload, DocumentWithdrawn):
            # Deleted (appType 3) before customs saw this version: nothing to release or resend, and
            # no receipt of its own, so it is never at the gate for the documents that wait for it.
            doc.phase = "withdrawn"
            doc.history.extend(doc.receipts)
            doc.receipts, doc.latest = [], None
        elif issubclass(payload, DocumentReleased):
            doc.phase = "released"
            doc.sender = doc.sender or str(fields.get("sender") or "")
        elif issubclass(payload, DocumentSigned):
            doc.phase = "signed"
        elif issubclass(payload, DocumentSigningFailed):
            doc.phase = "signing-failed"
        elif issubclass(payload, DocumentSent):
            doc.phase = "sent"
            doc.progress_at = data["at"]
        elif issubclass(payload, ReceiptRecorded):
            status = int(fields["returnStatus"])
            receipt_type = str(fields.get("receiptType") or "")
            if receipt_type == FORMAT_ERROR:
                status = -abs(status) or -1  # a DXP transport code (0001 format, 1001 signature …): a failure
            duplicate = doc.resends > 0 and statuses.is_duplicate_key(status, receipt_type)
            receipt = Receipt(status, str(fields.get("returnTime") or ""), str(fields.get("returnInfo") or ""),
                              receipt_type, duplicate)
            if not any((r.status, r.time) == (receipt.status, receipt.time) for r in doc.receipts + doc.history):
                if duplicate and not any(not r.duplicate for r in doc.receipts):
                    doc.original_unanswered = True
                doc.receipts.append(receipt)
                doc.latest = statuses.current(doc.receipts)
            doc.progress_at = data["at"]

    # -- views ---------------------------------------------------------------------------------
    def waiting_for(self, kind: str, gate: int) -> list[str]:
        """The prerequisites of ``kind`` not yet at the gate."""
        doc = self.docs.get(kind)
        if kind == "entry" and doc is not None:
            if not doc.members:
                return ["its waybills"]
            missing = [k for k in doc.members if k not in self.members_at_gate]
            return [f"the list of waybill {k}" for k in missing]
        if kind in export_rules.GROUPS and doc is not None:
            if not doc.members:
                return ["its lists"]
            unknown = len(set(doc.listed)) - len(doc.members)
            return [export_rules.member_waits_for(kind, k) for k in doc.members if not self.is_ready(kind, k)] + \
                ([f"the clearance of {unknown} waybill(s) it lists (not declared when it was)"] if unknown > 0 else [])
        if kind in (export_rules.WAYBILL, export_rules.LIST):
            return [p for p in export_rules.prerequisites(self, kind, self.export_policy)
                    if not self._at_gate(p, gate)]
        return [p for p in PREREQUISITES.get(kind, ()) if not self._at_gate(p, gate)]

    def is_ready(self, kind: str, member: str) -> bool:
        """Export group: member clearance ``member`` is where the ``kind`` document needs it."""
        return f"{kind}|{member}" in self.ready

    def is_lost(self, kind: str, member: str) -> bool:
        return f"{kind}|{member}|{self._generation(kind)}" in self.lost

    def lost_members(self, kind: str) -> dict[str, str]:
        """Export group: the member clearances that can no longer qualify for the current ``kind`` document
        (a new declaration of the group, e.g. without that member, starts afresh), and why."""
        doc = self.docs.get(kind)
        members = doc.members if doc is not None else []
        return {m: self.lost[f"{kind}|{m}|{self._generation(kind)}"] for m in members if self.is_lost(kind, m)}

    def _generation(self, kind: str) -> int:
        doc = self.docs.get(kind)
        return doc.generation if doc is not None else 0

    def _at_gate(self, kind: str, gate: int) -> bool:
        doc = self.docs.get(kind)
        return doc is not None and doc.at_gate(gate)

    def status_of(self, kind: str, gate: int = 120) -> str:
        """What the sender sees, in the platform's vocabulary: ``held``, ``customs accepted (120)`` …"""
        doc = self.docs.get(kind)
        if doc is None:
            return statuses.NOT_DECLARED
        current = doc.current
        if current is not None:
            return current.label
        if doc.phase == "held" and doc.released_generation == doc.generation:
            return statuses.document_status("released")  # released by the saga, not yet reported back
        return statuses.document_status(doc.phase)

    def reason_of(self, kind: str, gate: int = 120) -> str:
        """Why the document is where it is: customs' returnInfo of a rejection, or what a held one waits for."""
        doc = self.docs.get(kind)
        if doc is None:
            return ""
        if doc.rejected and doc.current is not None:
            return doc.current.info
        if doc.phase == "held" and doc.current is None and doc.released_generation != doc.generation:
            return statuses.waiting_reason(self.waiting_for(kind, gate))
        return ""

    def view(self, gate: int = 120) -> dict[str, Any]:
        """The clearance view: each document's status, what it waits for, and its receipts (and, for an
        export clearance or group, where it stands in the export chain)."""
        out = self._view(gate)
        if export_rules.is_export(self.key) or self.milestones or any(k in export_rules.GROUPS for k in self.docs):
            summary = self.docs.get(export_rules.SUMMARY)
            out["export"] = {
                "tradeMode": export_rules.trade_mode(self),
                "mode": "customs-declaration" if export_rules.customs_declaration_mode(self) else "list",
                "milestones": dict(self.milestones),
                "groups": {k: list(v) for k, v in self.groups.items()},
                "finished": export_rules.finished(self, gate),
                **({"summaryResult": dict(summary.result)} if summary is not None and summary.result else {}),
            }
        return out

    def _view(self, gate: int) -> dict[str, Any]:
        return {
            "clearanceKey": self.key,
            "locked": self.locked,
            "goodsLeft": self.goods_left,
            "alerts": list(self.alerts),
            "documents": {
                kind: {
                    "docType": doc.doc_type,
                    "status": self.status_of(kind, gate),
                    "statusCode": doc.status_code,
                    "phase": doc.phase,
                    "waitingFor": self.waiting_for(kind, gate) if doc.phase == "held" else [],
                    "resends": doc.resends,
                    "reason": self.reason_of(kind, gate),
                    "receipts": [{"returnStatus": r.status, "returnTime": r.time, "returnInfo": r.info}
                                 for r in sorted(doc.history + doc.receipts, key=lambda r: r.time)],
                    **({"taxBills": {n: dict(t) for n, t in doc.tax.items()}} if doc.tax else {}),
                }
                for kind, doc in self.docs.items()
            },
        }


def fold(key: str, events: list[tuple[str, dict[str, Any]]], export: ExportPolicy | None = None) -> Clearance:
    state = Clearance(key, export_policy=export or ExportPolicy())
    for event_type, data in events:
        state.apply(event_type, data)
    return state


# -- deciding ------------------------------------------------------------------------------------
Decision = tuple[str, dict[str, Any]]


def observe(state: Clearance, event: DeclarationEvent, at: datetime, policy: Policy) -> list[Decision]:
    """Record one upstream event (a ``cbec.event/1`` envelope, read once) and decide what follows from it.

    Returns ``[]`` for an event already seen (same or older stream version) or of a document
    type the saga does not follow.
    """
    kind = kind_of(event.doc_type)
    if kind is None:
        return []
    doc = state.docs.get(kind)
    if doc is not None and (not event.stream_id or event.stream_id == doc.stream_id) \
            and event.version <= doc.upstream_version:
        return []
    if EVENT_DATA.get(event.type) is ReceiptRecorded:
        problem = return_time_problem(str(event.data.get("returnTime", "")), at, policy.receipt_max_skew)
        if problem is not None:
            return _refused_receipt(state, event, kind, problem.message, at)
    return then_decide(state, [(OBSERVED, {"event": _slim(event), "at": at.isoformat()})], at, policy)


def _refused_receipt(state: Clearance, event: DeclarationEvent, kind: str, why: str,
                     at: datetime) -> list[Decision]:
    """A receipt not from customs (dated in the future): not folded, alerted once to the document's sender."""
    reason = f"a {event.doc_type} receipt was refused and not recorded: {why}"
    if reason in state.alerts:
        return []
    doc = state.docs.get(kind)
    alert = {"clearanceKey": state.key, "kind": "", "docType": event.doc_type,
             "tenant": doc.sender if doc is not None else "", "businessKey": doc.business_key if doc else [],
             "at": at.isoformat(), "reason": reason}
    state.apply(ALERT_RAISED, alert)
    return [(ALERT_RAISED, alert)]


def may_record_goods_left(state: Clearance, recorder: str) -> bool:
    """Only a party of the clearance reports its goods leaving: an enterprise that sent one of its
    documents (the bonded warehouse as declarant of its list) or the site operator of an entry list that
    covers it (entry instances are keyed ``operatorCode:copNo``)."""
    senders = {doc.sender for doc in state.docs.values() if doc.sender}
    operators = {entry.split(":", 1)[0] for entry in state.entries}
    return recorder in senders | operators


def record_goods_left(state: Clearance, at: datetime, policy: Policy) -> list[Decision]:
    if state.goods_left:
        return []
    return then_decide(state, [(GOODS_LEFT, {"at": at.isoformat()})], at, policy)


def tick(state: Clearance, at: datetime, policy: Policy) -> list[Decision]:
    """Time passed: resend what customs left unanswered, or raise an alert after ``max_resends``."""
    return then_decide(state, [], at, policy)


def next_deadline(state: Clearance, policy: Policy) -> datetime | None:
    """When :func:`tick` may next have something to do (None: nothing is awaited)."""
    due = [datetime.fromisoformat(d.progress_at) + policy.receipt_timeout
           for d in state.docs.values() if _awaiting_receipt(d, policy) and not d.alerted]
    due += [datetime.fromisoformat(d.held_at) + policy.receipt_timeout
            for d in state.docs.values() if _group_waiting(d)]
    return min(due) if due else None


def _group_waiting(doc: Doc) -> bool:
    """An export group held at intake, neither released nor refused, not yet alerted about."""
    return doc.kind in export_rules.GROUPS and doc.phase == "held" and bool(doc.held_at) and not doc.alerted \
        and doc.released_generation != doc.generation and doc.refused_generation != doc.generation


def _awaiting_receipt(doc: Doc, policy: Policy) -> bool:
    return bool(doc.progress_at) and doc.phase == "sent" and not doc.settled(policy.gate)


def then_decide(state: Clearance, events: list[Decision], at: datetime, policy: Policy) -> list[Decision]:
    for event_type, data in events:
        state.apply(event_type, data)
    decisions = decide(state, at, policy)
    return events + decisions


def decide(state: Clearance, at: datetime, policy: Policy) -> list[Decision]:
    """Everything the saga should do now; applies each decision to ``state`` as it goes."""
    out: list[Decision] = []

    def emit(event_type: str, data: dict[str, Any]) -> None:
        state.apply(event_type, data)
        out.append((event_type, data))

    for kind, doc in list(state.docs.items()):
        if doc.phase == "held" and doc.released_generation != doc.generation \
                and doc.refused_generation != doc.generation:
            verdict = _gate(state, kind, policy, at)
            if verdict is True:
                emit(RELEASE_ISSUED, _command(state, doc, "release"))
            elif isinstance(verdict, dict):
                emit(REFUSAL_ISSUED, {**_command(state, doc, "refuse"), "errors": [verdict]})
                if verdict["code"] == export_rules.MEMBER_CODE:
                    emit(ALERT_RAISED, _alert(state, doc, at, f"{doc.doc_type} {state.key} refused: "
                                              f"{verdict['message']}"))
        if _group_waiting(doc) and at >= datetime.fromisoformat(doc.held_at) + policy.receipt_timeout:
            waiting = "; ".join(state.waiting_for(kind, policy.gate)) or "nothing"
            emit(ALERT_RAISED, _alert(state, doc, at, f"{doc.doc_type} {state.key} is still held after "
                                      f"{policy.receipt_timeout}: waiting for {waiting}"))
        if kind == export_rules.SUMMARY and (failed := export_rules.summary_failed(doc)) \
                and failed not in state.alerts:
            emit(ALERT_RAISED, _alert(state, doc, at, failed))
        if doc.phase == "signing-failed" and not doc.alerted:
            emit(ALERT_RAISED, {"clearanceKey": state.key, "kind": kind, "docType": doc.doc_type,
                                "tenant": doc.sender, "businessKey": doc.business_key, "at": at.isoformat(),
                                "reason": f"signing {doc.doc_type} failed: the enterprise's key or certificate"
                                          " needs attention"})
        if doc.original_unanswered and not doc.alerted:
            emit(ALERT_RAISED, _alert(state, doc, at, f"customs answered the resent {doc.doc_type} with "
                                      f"{doc.status_code_raw} (already declared), but no receipt of the original "
                                      "ever arrived: check the document at customs"))
        if _awaiting_receipt(doc, policy) and not doc.alerted:
            due = datetime.fromisoformat(doc.progress_at) + policy.receipt_timeout
            if at >= due and doc.accepted_earlier:  # customs holds it: another resend would be answered the same
                emit(ALERT_RAISED, _alert(state, doc, at, f"{doc.doc_type} was accepted earlier, but customs "
                                          f"sent no further receipt within {policy.receipt_timeout}"))
            elif at >= due:
                if doc.resends < policy.max_resends:
                    emit(RESEND_ISSUED, {**_command(state, doc, f"resend{doc.resends + 1}"),
                                         "attempt": doc.resends + 1, "at": at.isoformat()})
                else:
                    emit(ALERT_RAISED, {"clearanceKey": state.key, "kind": kind, "docType": doc.doc_type,
                                        "tenant": doc.sender, "businessKey": doc.business_key, "at": at.isoformat(),
                                        "reason": f"no receipt for {doc.doc_type} after {doc.resends} resends"})
    inventory = state.docs.get("inventory") or state.docs.get(export_rules.LIST)
    if inventory is not None and not state.locked and inventory.at_gate(policy.gate):
        emit(LOCK_ISSUED, {"clearanceKey": state.key, "commandId": f"lock:{state.key}", "at": at.isoformat()})
    for kind, doc in state.docs.items():
        status, reason = state.status_of(kind, policy.gate), state.reason_of(kind, policy.gate)
        if (status, reason) != (doc.published, doc.published_reason) and doc.sender:
            emit(STATUS_PUBLISHED, {
                "clearanceKey": state.key, "kind": kind, "docType": doc.doc_type, "tenant": doc.sender,
                "businessKey": doc.business_key,
                "status": status, "statusCode": doc.status_code, "phase": doc.phase,
                "reason": reason,
                "errors": doc.intake_errors if doc.phase == "refused" else [],
                "at": at.isoformat(), "messageId": f"{state.key}:{kind}:{state.version + 1}",
            })
    return out


def _gate(state: Clearance, kind: str, policy: Policy, at: datetime) -> bool | dict[str, str] | None:
    """True to release, an error to refuse with, None to keep waiting."""
    if kind == export_rules.CANCEL:
        return export_rules.cancel_verdict(state)
    if kind == export_rules.RETURN:
        return export_rules.return_verdict(state, at)
    if kind in ("cancel", "return"):
        inventory = state.docs.get("inventory")
        list_status = inventory.status_code if inventory else None
        if kind == "cancel":
            if list_status in CANCEL_STATES and not state.goods_left:
                return True
            why = "the goods have left the zone or site" if state.goods_left else \
                f"the list is not released (status {list_status})"
            return {"code": "-623005", "path": "InvtCancel.invtNo", "rule": "§8.A.22 cancel state",
                    "message": f"清单的状态不符合撤单申报要求: {why}"}
        if list_status in RETURN_STATES and state.goods_left:
            return True
        why = "the goods have not left the zone or site" if list_status in RETURN_STATES else \
            f"the list is not released (status {list_status})"
        return {"code": "-625004", "path": "InvtRefundHead.invtNo", "rule": "§8.A.23 return state",
                "message": f"退货申请单申报失败: {why}"}
    if kind == "waybill-status":
        return True if state._at_gate("waybill", policy.gate) else None
    if kind == export_rules.LIST and (mismatch := export_rules.pairing_verdict(state)):
        return mismatch
    if kind in export_rules.GROUPS and (lost := state.lost_members(kind)):
        return export_rules.member_refusal(kind, lost)
    if state.waiting_for(kind, policy.gate):
        return None
    if kind == "waybill" and (clash := _waybill_sender_clash(state)):
        return clash
    return True


def _waybill_sender_clash(state: Clearance) -> dict[str, str] | None:
    """Order, payment and waybill must come from three different enterprises (seed 004 §六.2).

    Each owning service sees only its own document; the saga is the first to see all three senders.
    """
    senders = {k: state.docs[k].sender for k in ("order", "payment", "waybill") if k in state.docs}
    waybill = senders.get("waybill", "")
    same = [k for k in ("order", "payment") if senders.get(k) and senders[k] == waybill]
    if not waybill or not same:
        return None
    return {"code": "CBEC-TENANCY-DISTINCT", "path": "LogisticsHead.logisticsCode", "rule": "seed 004 §六.2",
            "message": f"the waybill comes from the enterprise that sent the {' and '.join(same)}: order, payment"
                       " and waybill must come from three different enterprises"}


def _alert(state: Clearance, doc: Doc, at: datetime, reason: str) -> dict[str, Any]:
    return {"clearanceKey": state.key, "kind": doc.kind, "docType": doc.doc_type, "tenant": doc.sender,
            "businessKey": doc.business_key, "at": at.isoformat(), "reason": reason}


def _command(state: Clearance, doc: Doc, what: str) -> dict[str, Any]:
    return {"clearanceKey": state.key, "kind": doc.kind, "docType": doc.doc_type,
            "businessKey": doc.business_key,
            "streamId": doc.stream_id, "generation": doc.generation,
            "commandId": f"saga:{state.key}:{doc.kind}:{doc.generation}:{what}"}


# What the saga keeps of an upstream event's payload (the envelope never carries personal data).
_KEPT = ("sender", "waitingFor", "receiptType", "returnStatus", "returnTime", "returnInfo", "businessKey",
         "clearanceKeys", "logisticsNos", "errors", "requestId", "refusesDocument",
         "tradeMode", "orderType", "strategy", "sumNo", "entryId", "decState", "taxNo", "status")


def _slim(event: DeclarationEvent) -> dict[str, Any]:
    """Keep only what folding needs (stored in the saga's ``UpstreamObserved``)."""
    return {
        "type": event.type, "streamId": event.stream_id, "version": event.version,
        "docType": event.doc_type, "clearanceKey": event.clearance_key,
        "data": {k: v for k, v in event.data.items() if k in _KEPT},
    }
