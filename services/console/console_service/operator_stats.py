"""The operator view's figures as windowed tables over the platform's topics.

What each message adds (:func:`fold`, pure, shared by both runners):

* ``cbec.out.status`` (every tenant's status changes; the per-tenant copies ``cbec.out.status.<code>``
  repeat them, so they are not read): a status change per tenant and phase (``phases``); a rejection
  per tenant and code (``rejections``: each finding's CEB error code, else the customs status code); the
  seconds from ``occurredAt`` to its arrival here, the pipeline's lag (``lag``, the window's maximum).
* ``cbec.feedback.<owner>.transmissions``: a document left for customs; it is *pending* until
  ``cbec.feedback.<owner>.receipts`` brings a receipt for its clearance and type. Pending ones older
  than the receipt deadline are the "receipts missing past their deadline".
* ``cbec.dlq.webhooks``: a notification the tenant's callback never took (its circuit gave up), per
  tenant (``webhooks``).
* ``cbec.ops.notification-circuits``: a tenant's notification circuit opened, failed a probe or closed;
  not windowed: the latest change per tenant (``circuits``, the newer ``changedAt`` wins, so a
  redelivered older change never overwrites a newer one). The page shows the open ones, *half-open*
  once their probe is due (the next push is the probe).

Two runners keep the tables: :class:`operator_agent.OperatorAgent` (faust-streaming, tumbling windowed
tables on Kafka) and :class:`MemoryStats` (the embedded development platform's in-process bus, which has
no broker). Counts are of messages: a message delivered twice (at-least-once) is counted twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.circuits import OPEN, CircuitChanged

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=5)  # a tumbling window
HORIZON = timedelta(hours=1)  # windows shown (and kept: older ones expire)
RECEIPT_DEADLINE = timedelta(minutes=30)
REJECTED_PHASES = frozenset({"rejected", "refused"})
SEP = "\t"  # between the parts of a table key (customs codes and phases have no tab)

PHASES, REJECTIONS, WEBHOOKS, LAG = "phases", "rejections", "webhooks", "lag"
WINDOWED = (PHASES, REJECTIONS, WEBHOOKS, LAG)


@dataclass(frozen=True)
class Folded:
    """What one message changes: counts to add, a lag sample, a pending document to add or clear."""

    counts: tuple[tuple[str, str], ...] = ()  # (table, key) += 1
    lag: float | None = None
    sent: tuple[str, str] | None = None  # (pending key, "tenant<TAB>sent at")
    answered: str | None = None  # pending key
    circuit: tuple[str, str] | None = None  # (tenant, the CircuitChanged JSON)


MAX_AHEAD = timedelta(minutes=5)  # how far a circuit change may be dated past its arrival (clock skew)


def pending_key(clearance_key: str, doc_type: str) -> str:
    return f"{clearance_key}{SEP}{doc_type}"


def _parse_time(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def fold(topic: str, value: bytes, arrived: datetime) -> Folded:
    """The table changes of one message of ``topic``; an unreadable message changes nothing (skipped with a
    log naming the rule: the agent's one consumer must never stop on a message)."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        log.warning("%s: a message that is not JSON (or nested too deep) skipped", topic)
        return Folded()
    if not isinstance(data, dict):
        log.warning("%s: a message that is not a JSON object skipped", topic)
        return Folded()
    if topic == topics.STATUS:
        return _status(data, arrived)
    if topic == topics.WEBHOOK_DEAD_LETTERS:
        tenant = str(data.get("tenant", ""))
        return Folded(counts=((WEBHOOKS, tenant),)) if tenant else Folded()
    if topic == topics.NOTIFICATION_CIRCUITS:
        try:
            change = CircuitChanged.from_dict(data)
        except ContractError as error:
            log.warning("%s: a change breaking cbec.circuit/1 skipped: %s", topic,
                        "; ".join(f"{e.path}: {e.message}" for e in error.errors)[:300])
            return Folded()
        changed = _parse_time(change.changed_at)
        if changed is None or changed > arrived + MAX_AHEAD:  # kept, it would hide every later change
            log.warning("%s: a change of tenant %s skipped: changedAt %s is in the future", topic,
                        change.tenant, change.changed_at[:40])
            return Folded()
        return Folded(circuit=(change.tenant, change.to_json().decode()))
    kind = (topics.feedback_kind(topic) or ("", ""))[1]
    clearance, doc_type = str(data.get("clearance_key", "")), str(data.get("doc_type", ""))
    if kind == topics.FEEDBACK_SENT and clearance and doc_type:
        tenant = clearance.split(":", 1)[0]  # the clearance's platform (ebpCode:orderNo)
        return Folded(sent=(pending_key(clearance, doc_type), f"{tenant}{SEP}{data.get('sent_at', '')}"))
    if kind == topics.FEEDBACK_RECEIPTS:
        node = data.get("node") if isinstance(data.get("node"), dict) else {}
        clearance = str((node or {}).get("clearanceKey", ""))
        if clearance and doc_type:
            return Folded(answered=pending_key(clearance, doc_type))
    return Folded()


def _status(data: dict[str, Any], arrived: datetime) -> Folded:
    tenant, phase = str(data.get("tenant", "")), str(data.get("phase", ""))
    if not tenant:
        return Folded()
    counts = [(PHASES, f"{tenant}{SEP}{phase or '-'}")]
    code = data.get("statusCode")
    customs_rejection = isinstance(code, int) and not isinstance(code, bool) and (code == 100 or code < 0)
    if phase in REJECTED_PHASES or customs_rejection:
        errors = data.get("errors") if isinstance(data.get("errors"), list) else []
        codes = sorted({str(e.get("code")) for e in errors or [] if isinstance(e, dict) and e.get("code")})
        for reason in codes or [str(code) if code is not None else phase]:
            counts.append((REJECTIONS, f"{tenant}{SEP}{reason}"))
    occurred = _parse_time(str(data.get("occurredAt", "")))
    lag = max(0.0, (arrived - occurred).total_seconds()) if occurred else None
    return Folded(counts=tuple(counts), lag=lag)


def window_start(at: datetime, size: timedelta = WINDOW) -> float:
    """The start (epoch seconds) of the tumbling window of ``at``."""
    step = size.total_seconds()
    return (at.timestamp() // step) * step


def keep_latest(circuits: MutableMapping[str, str], tenant: str, change: str) -> None:
    """Keep ``change`` (CircuitChanged JSON) as ``tenant``'s circuit unless the one kept changed later."""
    kept = circuits.get(tenant)
    if kept:
        before = _parse_time(str(json.loads(kept).get("changedAt", "")))
        after = _parse_time(str(json.loads(change).get("changedAt", "")))
        if before is not None and after is not None and after < before:
            return
    circuits[tenant] = change


@dataclass(frozen=True)
class Circuit:
    """A tenant's notification circuit that is not closed: ``open`` until its probe is due, then
    ``half-open`` (the next push is the probe)."""

    tenant: str
    state: str
    since: datetime | None
    probe_due: datetime | None
    probes: int
    error: str


def open_circuits(circuits: Iterable[tuple[str, str]], now: datetime) -> dict[str, Circuit]:
    """The circuits of ``(tenant, CircuitChanged JSON)`` that are open or half-open at ``now``."""
    out = {}
    for tenant, text in circuits:
        try:
            change = CircuitChanged.from_json(text)
        except ContractError:
            continue
        if change.state != OPEN:
            continue
        due = _parse_time(change.probe_due)
        state = "half-open" if due is not None and due <= now else "open"
        out[tenant] = Circuit(tenant, state, _parse_time(change.blocked_since), due, change.probes, change.error)
    return out


@dataclass
class OperatorFigures:
    """The figures of the last ``HORIZON``, per tenant (customs code)."""

    since: datetime
    phases: dict[str, Counter[str]] = field(default_factory=dict)
    rejections: dict[str, Counter[str]] = field(default_factory=dict)
    webhooks: Counter[str] = field(default_factory=Counter)
    overdue: Counter[str] = field(default_factory=Counter)
    lag: float = 0.0
    per_window: dict[float, int] = field(default_factory=dict)  # window start -> status changes
    circuits: dict[str, Circuit] = field(default_factory=dict)  # tenant -> its open or half-open circuit

    def tenants(self) -> list[str]:
        return sorted(set(self.phases) | set(self.rejections) | set(self.webhooks) | set(self.overdue)
                      | set(self.circuits))


def summarize(windowed: Iterable[tuple[str, str, float, float]], pending: Iterable[tuple[str, str]],
              now: datetime, *, horizon: timedelta = HORIZON, deadline: timedelta = RECEIPT_DEADLINE,
              circuits: Iterable[tuple[str, str]] = ()) -> OperatorFigures:
    """The figures from windowed rows ``(table, key, window start, value)`` of the windows that start within
    ``horizon`` of ``now``, pending documents ``(key, "tenant<TAB>sent at")`` and the latest circuit change
    per tenant ``(tenant, CircuitChanged JSON)``."""
    since = now - horizon
    out = OperatorFigures(since, circuits=open_circuits(circuits, now))
    for table, key, start, value in windowed:
        if start < since.timestamp() - WINDOW.total_seconds() or not value:
            continue
        if table == LAG:
            out.lag = max(out.lag, float(value))
            continue
        tenant, _, part = key.partition(SEP)
        if table == PHASES:
            out.phases.setdefault(tenant, Counter())[part] += int(value)
            out.per_window[start] = out.per_window.get(start, 0) + int(value)
        elif table == REJECTIONS:
            out.rejections.setdefault(tenant, Counter())[part] += int(value)
        elif table == WEBHOOKS:
            out.webhooks[tenant] += int(value)
    for _, text in pending:
        tenant, _, sent = text.partition(SEP)
        at = _parse_time(sent)
        if at is not None and now - at > deadline:
            out.overdue[tenant] += 1
    return out


class StatsSource(Protocol):
    """Where the operator page reads its figures."""

    def figures(self, now: datetime | None = None) -> OperatorFigures: ...


class MemoryStats:
    """The same tables in this process's memory, windowed by hand (a few dict keys), for a platform whose
    bus is in the process (:meth:`feed` is called with each message, e.g. by :class:`BusFeed`)."""

    def __init__(self, window: timedelta = WINDOW, horizon: timedelta = HORIZON) -> None:
        self.window, self.horizon = window, horizon
        self.windowed: dict[tuple[str, str, float], float] = {}
        self.pending: dict[str, str] = {}
        self.circuits: dict[str, str] = {}

    def feed(self, topic: str, value: bytes, at: datetime) -> None:
        change = fold(topic, value, at)
        start = window_start(at, self.window)
        for table, key in change.counts:
            self.windowed[(table, key, start)] = self.windowed.get((table, key, start), 0) + 1
        if change.lag is not None:
            self.windowed[(LAG, LAG, start)] = max(self.windowed.get((LAG, LAG, start), 0.0), change.lag)
        if change.sent is not None:
            self.pending[change.sent[0]] = change.sent[1]
        if change.answered is not None:
            self.pending.pop(change.answered, None)
        if change.circuit is not None:
            keep_latest(self.circuits, *change.circuit)
        expired = start - (self.horizon + self.window).total_seconds()
        for old in [k for k in self.windowed if k[2] < expired]:
            del self.windowed[old]

    def figures(self, now: datetime | None = None) -> OperatorFigures:
        rows = [(table, key, start, value) for (table, key, start), value in self.windowed.items()]
        return summarize(rows, self.pending.items(), now or datetime.now(UTC), horizon=self.horizon,
                         circuits=self.circuits.items())


class InProcessTopics(Protocol):
    def messages(self, topic: str) -> list[Any]: ...

    def topics(self) -> list[str]: ...


SOURCE_TOPICS: tuple[str, ...] = (topics.STATUS, topics.WEBHOOK_DEAD_LETTERS, topics.NOTIFICATION_CIRCUITS,
                                  *topics.feedback_of_kind(topics.FEEDBACK_SENT),
                                  *topics.feedback_of_kind(topics.FEEDBACK_RECEIPTS))


def read_topic(topic: str) -> bool:
    """Whether the operator tables read ``topic`` (one of :data:`SOURCE_TOPICS`)."""
    if topic in (topics.STATUS, topics.WEBHOOK_DEAD_LETTERS, topics.NOTIFICATION_CIRCUITS):
        return True
    return (topics.feedback_kind(topic) or ("", ""))[1] in (topics.FEEDBACK_SENT, topics.FEEDBACK_RECEIPTS)


class BusFeed:
    """:class:`MemoryStats` over an in-process bus, read up to date when the figures are asked for."""

    def __init__(self, bus: InProcessTopics, stats: MemoryStats | None = None) -> None:
        self.bus, self.stats = bus, stats or MemoryStats()
        self._seen: dict[str, int] = {}

    def figures(self, now: datetime | None = None) -> OperatorFigures:
        arrived = datetime.now(UTC)
        for topic in (t for t in self.bus.topics() if read_topic(t)):
            messages = self.bus.messages(topic)
            for message in messages[self._seen.get(topic, 0):]:
                self.stats.feed(topic, message.value, arrived)
            self._seen[topic] = len(messages)
        return self.stats.figures(now)
