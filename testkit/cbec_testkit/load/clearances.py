"""Full clearances (order, payment, waybill, list from their four enterprises; 9610 and 1210 mixed),
published on the intake topics in reverse prerequisite order at a steady rate or in one burst."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cbec.contracts.commands import INTAKE_TOPICS, DeclareDocument
from cbec.declaration.doctypes import BY_CODE
from kafka import KafkaProducer

from cbec_testkit.samples import declare_clearance

TOPIC_OF = {code: topic for topic, code in INTAKE_TOPICS.items()}


@dataclass(frozen=True, slots=True)
class Sent:
    """What the report needs of a published clearance."""

    key: str
    order_no: str


@dataclass(frozen=True)
class Clearance:
    n: int
    key: str  # ebpCode:orderNo, as cbec.out.status names it
    order_no: str
    commands: list[DeclareDocument]  # order, payment, waybill, list


def make_clearance(n: int) -> Clearance:
    commands = declare_clearance(n, trade_mode="9610" if n % 2 else "1210")
    head = commands[0].document["OrderHead"]
    return Clearance(n, f"{head['ebpCode']}:{head['orderNo']}", str(head["orderNo"]), commands)


@dataclass
class Publisher:
    """Sends clearances and remembers when each document was handed to the producer (its intake time)."""

    bootstrap: str
    sent_at: dict[tuple[str, str], float] = field(default_factory=dict)  # (clearance key, doc type) → time
    published: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                       retries=2147483647, max_in_flight_requests_per_connection=1)

    def send(self, clearance: Clearance) -> None:
        for command in reversed(clearance.commands):  # list, waybill, payment, order
            key = ":".join(BY_CODE[command.doc_type].business_key(command.document)).encode()
            with self._lock:
                self.sent_at.setdefault((clearance.key, command.doc_type), time.time())
            self._producer.send(TOPIC_OF[command.doc_type], key=key, value=command.to_json())
        with self._lock:
            self.published.append(Sent(clearance.key, clearance.order_no))

    def run(self, numbers: Iterable[int], *, rate: float | None,
            announce: Callable[[Clearance], None] = lambda _: None) -> None:
        """Clearance ``n`` for each of ``numbers``, made as it is sent (a soak holds no backlog), at ``rate``
        clearances per second (None: as fast as the producer takes them); ``announce`` sees each first."""
        begin = time.monotonic()
        for i, n in enumerate(numbers):
            clearance = make_clearance(n)
            if rate:
                delay = begin + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            announce(clearance)
            self.send(clearance)
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()
