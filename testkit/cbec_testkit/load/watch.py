"""``cbec.out.status`` followed from the start: when each document was sent to customs, when each list
was released, and every alert. Only the clearances of this run count; the rest is ignored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from kafka import KafkaConsumer, TopicPartition

STATUS_TOPIC = "cbec.out.status"


class HasKey(Protocol):
    @property
    def key(self) -> str: ...

RELEASED = 800
ALERT = "ClearanceAlert"


@dataclass
class StatusWatch:
    """What the status topic said about the run's clearances (filled by ``observe``)."""

    keys: set[str] = field(default_factory=set)
    sent: dict[tuple[str, str], float] = field(default_factory=dict)  # (clearance, doc type) → first "sent"
    released: dict[str, float] = field(default_factory=dict)  # clearance → the list's first 800
    alerts: list[dict[str, object]] = field(default_factory=list)
    rejections: list[dict[str, object]] = field(default_factory=list)
    messages: int = 0

    def expect(self, keys: Iterable[str]) -> None:
        self.keys.update(keys)

    def observe(self, data: dict[str, object], at: float) -> None:
        """One status message, seen at ``at``."""
        key = str(data.get("clearanceKey", ""))
        if key not in self.keys:
            return
        self.messages += 1
        if data.get("type") == ALERT:
            self.alerts.append(data)
            return
        doc_type, code, phase = str(data.get("docType", "")), data.get("statusCode"), data.get("phase")
        if phase == "sent" or isinstance(code, int):
            self.sent.setdefault((key, doc_type), at)
        if isinstance(code, int) and (code == 100 or code < 0):
            self.rejections.append(data)
        if doc_type == "CEB621" and code == RELEASED:
            self.released.setdefault(key, at)

    def alerted(self) -> set[str]:
        return {str(alert.get("clearanceKey", "")) for alert in self.alerts}

    def settled(self) -> int:
        """Clearances that will not move any more by themselves: released, or alerted and not released."""
        return len(self.released.keys() | self.alerted())

    def missing(self) -> list[str]:
        return sorted(self.keys - set(self.released))


class StatusFollower:
    """A thread reading every partition of ``cbec.out.status`` from the beginning into a ``StatusWatch``."""

    def __init__(self, bootstrap: str, watch: StatusWatch, *, wait_for_topic: float = 120) -> None:
        self.watch = watch
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                       reconnect_backoff_max_ms=2000)
        deadline = time.monotonic() + wait_for_topic
        partitions = self._consumer.partitions_for_topic(STATUS_TOPIC)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.5)
            self._consumer.close()
            self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
            partitions = self._consumer.partitions_for_topic(STATUS_TOPIC)
        if not partitions:
            raise RuntimeError(f"{STATUS_TOPIC} does not exist: is the saga running?")
        assigned = [TopicPartition(STATUS_TOPIC, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_beginning(*assigned)
        self._thread = threading.Thread(target=self._loop, name="status-follower", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                batches = self._consumer.poll(timeout_ms=500)
            except Exception:  # noqa: BLE001 - a broker restart: keep following
                time.sleep(0.5)
                continue
            now = time.time()
            for records in batches.values():
                for record in records:
                    try:
                        data = json.loads(record.value)
                    except ValueError:
                        continue
                    if isinstance(data, dict):
                        with self._lock:
                            self.watch.observe(data, now)

    def expect(self, clearance: HasKey) -> None:
        """Count this clearance's status messages (called before it is published)."""
        with self._lock:
            self.watch.keys.add(clearance.key)

    def snapshot(self) -> tuple[int, int, int, int]:
        """(released, settled: released or alerted, alerts, status messages seen) right now."""
        with self._lock:
            w = self.watch
            return len(w.released), w.settled(), len(w.alerts), w.messages

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
