"""Kafka consumer-group loop: ``cbec.sign.requests`` → :class:`SignerApp` → ``cbec.sign.results``.

Why a plain kafka-python consumer and not a faust agent: the signer is CPU-bound, batch-shaped work
with a ≥1,667 msg/s per-machine target. A synchronous ``poll(max_records)`` → sign the batch →
produce → ``flush`` → ``commit`` loop has no event-loop overhead per message, gives at-least-once
delivery with the commit strictly after the results are durable, and keeps concurrency at 1 per
partition (faust #606: agents with concurrency > 1 can commit past in-flight messages). Scale with
partitions and replicas (processes) in the ``cbec-signer`` group; duplicates after a rebalance are
answered by request id.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from cbec.contracts.signing import ContractError, SignRequest

from signer_service.application import SignerApp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    bootstrap_servers: str
    group_id: str = "cbec-signer"
    requests_topic: str = "cbec.sign.requests"
    results_topic: str = "cbec.sign.results"
    dlq_topic: str = "cbec.dlq.signer"
    max_poll_records: int = 500
    poll_timeout_ms: int = 200
    client_id: str = "cbec-signer"


class SignerWorker:
    def __init__(self, app: SignerApp, config: WorkerConfig) -> None:
        from kafka import KafkaConsumer, KafkaProducer

        self.app = app
        self.config = config
        self.processed = 0
        self.seconds: dict[str, float] = {
            "poll": 0.0,
            "decode": 0.0,
            "sign": 0.0,
            "produce": 0.0,
            "commit": 0.0,
        }
        self._consumer: Any = KafkaConsumer(
            config.requests_topic,
            bootstrap_servers=config.bootstrap_servers,
            group_id=config.group_id,
            client_id=config.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.max_poll_records,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            max_poll_interval_ms=300_000,
        )
        self._producer: Any = KafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            client_id=config.client_id,
            acks="all",
            linger_ms=5,
            batch_size=512 * 1024,
            max_request_size=8 * 1024 * 1024,
        )

    def process_once(self) -> int:
        """Poll one batch, sign it, produce and flush the results, then commit; returns its size."""
        t0 = time.perf_counter()
        polled = self._consumer.poll(
            timeout_ms=self.config.poll_timeout_ms, max_records=self.config.max_poll_records
        )
        records = [record for batch in polled.values() for record in batch]
        t1 = time.perf_counter()
        self.seconds["poll"] += t1 - t0
        if not records:
            return 0
        requests: list[SignRequest] = []
        for record in records:
            try:
                requests.append(SignRequest.from_json(record.value))
            except ContractError as exc:
                log.warning(
                    "signer: unreadable request at %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc,
                )
                self.app.metrics.record_error("CBEC-SIG-REQUEST")
                self._producer.send(self.config.dlq_topic, key=record.key, value=record.value)
        t2 = time.perf_counter()
        results = self.app.handle_batch(requests)
        t3 = time.perf_counter()
        for result in results:
            self._producer.send(
                self.config.results_topic, key=result.clearance_key.encode(), value=result.to_json()
            )
        self._producer.flush()
        t4 = time.perf_counter()
        self._consumer.commit()
        t5 = time.perf_counter()
        for name, seconds in (
            ("decode", t2 - t1),
            ("sign", t3 - t2),
            ("produce", t4 - t3),
            ("commit", t5 - t4),
        ):
            self.seconds[name] += seconds
        self.processed += len(records)
        return len(records)

    def run(self, stop: threading.Event | None = None, *, max_messages: int | None = None) -> None:
        stop = stop or threading.Event()
        last_health = time.monotonic()
        while not stop.is_set():
            self.process_once()
            if max_messages is not None and self.processed >= max_messages:
                break
            if time.monotonic() - last_health > 30:
                last_health = time.monotonic()
                self.app.health_check()
                self.app.registry.log_expiry_warnings()

    def close(self) -> None:
        try:
            self._producer.flush()
            self._producer.close()
        finally:
            self._consumer.close()
