"""Customs' results that name a number not yet known here, kept until a receipt assigns it.

A result (a policy's ``results``: CEB792, CEB816, CEB818) may name its document only by the number customs
gave it (``result_number``: sumNo, invtNo), and it travels under another Kafka key than the receipt carrying
that number, so it may arrive first. Such a result is **parked**: ``ResultParked`` (the whole result) on the
number's index stream (:mod:`.numbers`), in the transaction that records the consumer's position. Parking
and numbering append to the same stream at an expected version, so a result never parks after its number
is assigned unnoticed. When a receipt assigns the number, the parked results are recorded on the document's
stream and ``ResultUnparked`` on the index stream, in one transaction (``Feedback.apply_parked``).

The per-type register (``parked:<kind>``, then pages ``parked:<kind>:<n>`` of about ``PAGE`` events each)
lists what is parked and unparked, so a sweep at start-up and every few minutes finds what a crash between
numbering and applying left behind, and reports how many results wait and for how long
(``cbec_results_parked``). Both are bookkeeping that never leaves the service (``routing.INTERNAL_EVENTS``).
Events rather than a table: they commit with the consumer's position through every store the engine has
(in-memory, SQLite, Postgres, a consumer batch) with no migration.

What it costs is bounded, since the customs side may be broken or hostile and flood results naming numbers
no receipt assigns: each register event carries the count of results waiting after it (``waiting``), so
parking or applying reads only the last page (found from a remembered page in a few reads); at most
``CBEC_RESULTS_PARKED_MAX`` results of a type and ``MAX_PER_NUMBER`` per number wait, and a result beyond
either is refused (``ContractError`` CBEC-2021: dead-lettered, so kept for replay, never silently dropped);
a sweep reads at most ``SWEEP_PAGES`` pages per run, resuming where the last one stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cbec.contracts.customs import ReceiptReceived
from cbec.declaration.doctypes import STREAM_NAMESPACE, DocType
from cbec.declaration.ports import StreamAppend

RESULT_PARKED = "ResultParked"
TOO_MANY = "CBEC-2021"  # more results waiting for their numbers than allowed (customs' ranges name none)
PAGE = 256  # register events per page: what parking or applying reads of the register
SWEEP_PAGES = 16  # register pages a sweep reads per run
MAX_PER_NUMBER = 64  # results that may wait for one number (a tax bill and its status changes are a few)
RESULT_UNPARKED = "ResultUnparked"
EVENTS = frozenset({RESULT_PARKED, RESULT_UNPARKED})

Events = Sequence[tuple[str, dict[str, Any]]]


def register_id(doc_type: DocType, page: int = 0) -> uuid.UUID:
    """A page of the register listing the results of ``doc_type`` parked and unparked: ``parked:<kind>``
    (page 0), then ``parked:<kind>:<page>``."""
    return uuid.uuid5(STREAM_NAMESPACE, f"parked:{doc_type.kind}" + (f":{page}" if page else ""))


Read = Callable[[uuid.UUID], list[tuple[str, dict[str, Any]]]]


def waiting_count(events: Events) -> int:
    """How many results wait after a register page's last event (a page written before the counts: its own)."""
    if events and isinstance(events[-1][1].get("waiting"), int):
        return max(0, int(events[-1][1]["waiting"]))
    return len(waiting(events))


@dataclass(slots=True)
class LastPage:
    """The register's last page of a type: its number, its events and how many results wait."""

    page: int
    events: list[tuple[str, dict[str, Any]]]
    count: int

    def append(self, doc_type: DocType, events: list[tuple[str, dict[str, Any]]]) -> StreamAppend:
        """``events`` appended to this page, each carrying the count of results waiting after it."""
        count, out = self.count, []
        for kind, data in events:
            count = count + 1 if kind == RESULT_PARKED else max(0, count - 1)
            out.append((kind, {**data, "waiting": count}))
        return StreamAppend(register_id(doc_type, self.page), len(self.events), out)


class Register:
    """Finds the register's last page in a few reads: pages only fill, so it searches forward from the page
    last found (remembered per type: another process may have moved on since, never back)."""

    def __init__(self) -> None:
        self.last_found: dict[str, int] = {}
        self.sweeps: dict[str, SweepPass] = {}

    def last(self, doc_type: DocType, read: Read) -> LastPage:
        def full(page: int) -> bool:
            return len(read(register_id(doc_type, page))) >= PAGE

        low = self.last_found.get(doc_type.kind, 0)
        if full(low):  # gallop to a page not full, then halve the gap: O(log pages) reads
            step = 1
            while full(low + step):
                low, step = low + step, step * 2
            high = low + step  # low is full, high is not
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if full(middle) else (low, middle)
            low = high
        self.last_found[doc_type.kind] = low
        events = read(register_id(doc_type, low))
        before = read(register_id(doc_type, low - 1)) if not events and low else events
        return LastPage(low, events, waiting_count(before))


@dataclass(frozen=True, slots=True)
class Parked:
    """One result waiting for its number ``value`` (of receipt field ``field``)."""

    field: str
    value: str
    receipt_id: str
    parked_at: str
    result: ReceiptReceived | None = None  # on the index stream; the register holds references only


def parked_event(doc_type: DocType, name: str, value: str, result: ReceiptReceived, at: datetime,
                 with_result: bool) -> tuple[str, dict[str, Any]]:
    """``ResultParked`` for the index stream (``with_result``: the whole result) or the register."""
    data: dict[str, Any] = {"docType": doc_type.code, "field": name, "value": value,
                            "receiptId": result.receipt_id, "parkedAt": at.isoformat()}
    if with_result:
        data["result"] = result.to_dict()
    return RESULT_PARKED, data


def unparked_event(doc_type: DocType, parked: Parked) -> tuple[str, dict[str, Any]]:
    return RESULT_UNPARKED, {"docType": doc_type.code, "field": parked.field, "value": parked.value,
                             "receiptId": parked.receipt_id}


def waiting(events: Events) -> list[Parked]:
    """The results parked on a stream and not unparked since, in the order they were parked."""
    out: dict[tuple[str, str, str], Parked] = {}
    for kind, data in events:
        ref = (str(data.get("field", "")), str(data.get("value", "")), str(data.get("receiptId", "")))
        if kind == RESULT_PARKED and ref not in out:
            raw = data.get("result")
            result = ReceiptReceived.from_dict(raw) if isinstance(raw, dict) else None
            out[ref] = Parked(*ref, parked_at=str(data.get("parkedAt", "")), result=result)
        elif kind == RESULT_UNPARKED:
            out.pop(ref, None)
    return list(out.values())


def parked_refs(events: Events) -> list[tuple[str, str]]:
    """The numbers (field, value) a register page names as parked, each once, in order."""
    return list(dict.fromkeys((str(d.get("field", "")), str(d.get("value", "")))
                              for kind, d in events if kind == RESULT_PARKED))


def parked_here(events: Events) -> int:
    """How many results were ever parked on an index stream."""
    return sum(1 for kind, _ in events if kind == RESULT_PARKED)


def ever_parked(events: Events, receipt_id: str) -> bool:
    """Whether a result was parked on this stream before (a redelivery parks nothing twice)."""
    return any(kind == RESULT_PARKED and data.get("receiptId") == receipt_id for kind, data in events)


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a sweep left parked of one type: how many results, how many past the allowed age (``overdue``),
    and the age of the oldest in days."""

    doc_type: str
    count: int
    overdue: int
    oldest_days: float


@dataclass(slots=True)
class SweepPass:
    """Where the sweep of one type's register is: the next page (``page``), the first page still naming a
    waiting result in this pass (the next pass starts there: pages before it wait for nothing), the ages
    of the waiting results seen in this pass and those of the last full pass (``reported``)."""

    page: int = 0
    first_waiting: int | None = None
    ages: list[timedelta] = field(default_factory=list)
    last_full: list[timedelta] | None = None

    def passed(self, page: int, waiting_here: bool) -> None:
        if waiting_here and self.first_waiting is None:
            self.first_waiting = page
        self.page = page + 1

    def complete(self) -> None:
        """The pass reached the last page: the next starts at the first page still naming a waiting result."""
        self.last_full, self.ages = self.ages, []
        self.page = self.first_waiting if self.first_waiting is not None else max(0, self.page - 1)
        self.first_waiting = None

    @property
    def reported(self) -> list[timedelta]:
        return self.ages if self.last_full is None else self.last_full
