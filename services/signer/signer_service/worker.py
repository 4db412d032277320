"""Kafka consumer-group loop: ``cbec.sign.requests`` → :class:`SignerApp` → ``cbec.sign.results`` (the
signed document, for the customs link) and the owner's ``cbec.feedback.<service>.sign-outcomes`` (the
same result without the document, :func:`outcome_message`).

Why a plain aiokafka consumer and not a faust agent: the signer is CPU-bound, batch-shaped work with
a ≥1,667 msg/s per-machine target. ``getmany(max_records)`` → sign the batch → produce → flush →
commit has no per-message agent overhead, commits strictly after the results are durable
(at-least-once), and keeps concurrency at 1 per partition (faust #606: agents with concurrency > 1
can commit past in-flight messages). Scale with partitions and replicas (processes) in the
``cbec-signer`` group; duplicates after a rebalance are answered by request id.

Why aiokafka rather than kafka-python: kafka-python without the optional ``crc32c`` C package
checksums record batches in pure Python (~4 MB/s here), which alone caps a replica at a few hundred
5 KB messages/s; aiokafka builds and parses record batches in its Cython extension.

The batch is signed on a worker thread so the event loop keeps fetching and heartbeating meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import CommitFailedError
from cbec.bus.limits import DEFAULT_MAX_MESSAGE_BYTES, TOO_LARGE, dead_letter_limit, record_size, topic_limit
from cbec.bus.poison import message_of, poison_letter
from cbec.contracts import topics
from cbec.contracts.signing import ContractError, SignError, SignRequest, SignResult
from cbec.declaration.owners import owner_of
from cbec.health import Heartbeat
from cbec.privacy.cipher import AesGcmCipher
from cbec.telemetry import TRACE_HEADERS, consuming, current_headers

from signer_service.application import BAD_REQUEST, SignerApp

log = logging.getLogger(__name__)

OUTCOME_TOPICS = topics.feedback_of_kind(topics.FEEDBACK_SIGNED)
HEALTH_CHECK_SECONDS = 30.0
EXPIRY_WARNING_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    bootstrap_servers: str
    group_id: str = "cbec-signer"
    requests_topic: str = topics.SIGN_REQUESTS
    results_topic: str = topics.SIGN_RESULTS
    dlq_topic: str = topics.SIGNER_DEAD_LETTERS  # unreadable requests, as dead letters (lossless, sealed)
    outcomes_prefix: str = ""  # before each owner's outcome topic (tests sharing a broker)
    max_poll_records: int = 500
    poll_timeout_ms: int = 2_000  # an idle worker sees ``stop`` within this (CBEC_KAFKA_POLL_TIMEOUT)
    fetch_max_wait_ms: int = 5_000  # the broker holds an empty fetch this long (CBEC_KAFKA_FETCH_MAX_WAIT_MS)
    client_id: str = "cbec-signer"
    warm_cache_per_partition: int = 2_000  # recent results read back into the idempotency cache
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # CBEC_KAFKA_MAX_MESSAGE_BYTES
    pii_keys: str | None = field(default=None, repr=False)  # CBEC_PII_KEYS: seals dead letters
    topic_partitions: int | None = None  # create the three topics (with the size limit) at start when set
    client_options: Mapping[str, Any] = field(default_factory=dict)  # security (cbec.bus.security)

    def client(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client of the worker starts from."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.client_options}


class SignerWorker:
    """One consumer-group member. Use ``async with`` or :meth:`start`/:meth:`stop`."""

    def __init__(self, app: SignerApp, config: WorkerConfig) -> None:
        self.app = app
        self.config = config
        self.processed = 0
        self.heartbeat = Heartbeat("consumer-signer")  # busy through each batch: the liveness probe reads it
        self.seconds: dict[str, float] = {"poll": 0.0, "decode": 0.0, "sign": 0.0, "produce": 0.0, "commit": 0.0}
        self._signing = ThreadPoolExecutor(1, thread_name_prefix="sign-batch")
        self._consumer: Any = None
        self._producer: Any = None
        self._cipher = AesGcmCipher.from_spec(config.pii_keys)

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        c = self.config
        if c.topic_partitions:
            from cbec.bus.kafka import ensure_topics

            names = [c.requests_topic, c.results_topic, c.dlq_topic, *(c.outcomes_prefix + t for t in OUTCOME_TOPICS)]
            await asyncio.to_thread(ensure_topics, c.bootstrap_servers, names, c.topic_partitions,
                                    max_message_bytes=c.max_message_bytes)
        self._producer = AIOKafkaProducer(
            **c.client(),
            client_id=c.client_id,
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            max_request_size=max(8 * 1024 * 1024, dead_letter_limit(c.max_message_bytes)),
        )
        self._consumer = AIOKafkaConsumer(
            c.requests_topic,
            **c.client(),
            group_id=c.group_id,
            client_id=c.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=c.max_poll_records,
            fetch_max_wait_ms=c.fetch_max_wait_ms,
            max_partition_fetch_bytes=max(8 * 1024 * 1024, dead_letter_limit(c.max_message_bytes)),
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await self._producer.start()
        if c.warm_cache_per_partition > 0:
            await self._warm_cache()
        await self._consumer.start()

    async def _warm_cache(self) -> int:
        """Read the tail of the results topic into the app's cache: a restarted replica then answers
        a redelivered request with the result already published instead of signing it again."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        c = self.config
        reader = AIOKafkaConsumer(**c.client(), enable_auto_commit=False)
        await reader.start()
        seeded = 0
        try:
            try:
                partitions = await self._producer.partitions_for(c.results_topic)
            except Exception as exc:  # noqa: BLE001 - no results topic yet means nothing to read back
                log.info("signer: results topic not readable yet (%r); cache starts empty", exc)
                return 0
            tps = [TopicPartition(c.results_topic, p) for p in partitions]
            if not tps:
                return 0
            reader.assign(tps)
            ends = await reader.end_offsets(tps)
            starts = await reader.beginning_offsets(tps)
            for tp in tps:
                reader.seek(tp, max(starts[tp], ends[tp] - c.warm_cache_per_partition))
            remaining = {tp for tp in tps if ends[tp] > starts[tp]}
            while remaining:
                batches = await reader.getmany(timeout_ms=1000, max_records=5000)
                if not batches:
                    break
                for tp, records in batches.items():
                    for record in records:
                        try:
                            self.app.remember(SignResult.from_json(record.value))
                            seeded += 1
                        except ContractError:
                            continue
                    if records and records[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
        log.info("signer: %d published results read back into the idempotency cache", seeded)
        return seeded

    async def stop(self) -> None:
        try:
            if self._producer is not None:
                await self._producer.stop()
        finally:
            if self._consumer is not None:
                await self._consumer.stop()
            self._signing.shutdown(wait=True)

    async def __aenter__(self) -> SignerWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def assigned_partitions(self) -> int:
        """How many partitions this member holds now (0 before the group is joined)."""
        return len(self._consumer.assignment()) if self._consumer is not None else 0

    def joined(self) -> bool:
        """Whether the group gave this member its first assignment (possibly no partitions)."""
        subscription = self._consumer._subscription.subscription if self._consumer is not None else None
        return self.assigned_partitions() > 0 or (subscription is not None and subscription.assignment is not None)

    async def process_once(self) -> int:
        """Fetch one batch, sign it, produce and flush the results, then commit; returns its size."""
        c = self.config
        t0 = time.perf_counter()
        polled = await self._consumer.getmany(timeout_ms=c.poll_timeout_ms, max_records=c.max_poll_records)
        records = [record for batch in polled.values() for record in batch]
        t1 = time.perf_counter()
        self.seconds["poll"] += t1 - t0
        if not records:
            return 0
        requests: list[SignRequest] = []
        origins: list[Any] = []  # the record of each request, whose trace its results continue
        acks: list[Any] = []
        for record in records:
            try:
                requests.append(SignRequest.from_json(record.value))
                origins.append(record)
            except Exception as exc:  # noqa: BLE001 - an unreadable request is poison, never a reason to stop
                log.warning("signer: unreadable request %s[%d]@%d: %s", record.topic, record.partition,
                            record.offset, type(exc).__name__)
                self.app.metrics.record_error(BAD_REQUEST)
                acks.append(await self._producer.send(c.dlq_topic, key=record.key, value=self.dead_letter(record, exc)))
        t2 = time.perf_counter()
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._signing, self.app.handle_batch, requests)
        t3 = time.perf_counter()
        for result, origin in zip(results, origins, strict=True):
            value = result.to_json()
            limit = topic_limit(c.results_topic, c.max_message_bytes)
            if record_size(result.clearance_key, value) > limit:
                result = too_large(result, len(value), limit)
                value = result.to_json()
            key = result.clearance_key.encode()
            headers = _traced(origin)
            acks.append(await self._producer.send(c.results_topic, key=key, value=value, headers=headers))
            outcome = outcome_message(result)
            if outcome is not None:
                acks.append(await self._producer.send(c.outcomes_prefix + outcome[0], key=key, value=outcome[1],
                                                      headers=headers))
        await self._producer.flush()
        await asyncio.gather(*acks)  # a refused result or dead letter fails the batch: nothing is committed
        t4 = time.perf_counter()
        try:
            await self._consumer.commit()
        except CommitFailedError as exc:
            # The group rebalanced under us: the results are out, the new owner re-signs (idempotent).
            log.warning("signer: commit failed after producing %d results: %s", len(results), exc)
        t5 = time.perf_counter()
        for name, seconds in (("decode", t2 - t1), ("sign", t3 - t2), ("produce", t4 - t3), ("commit", t5 - t4)):
            self.seconds[name] += seconds
        self.processed += len(records)
        return len(records)

    def dead_letter(self, record: Any, error: BaseException) -> bytes:
        """The dead letter of an unreadable request: lossless, with its reasons, sealed with the PII keys."""
        message = message_of(record.topic, record.partition, record.offset, record.key, record.value, record.headers)
        return poison_letter(message, error).sealed_with(self._cipher).to_json()

    async def run(self, stop: threading.Event | None = None, *, max_messages: int | None = None) -> None:
        """Process batches until ``stop`` is set (or ``max_messages`` were handled)."""
        stop = stop or threading.Event()
        last_health = last_expiry = time.monotonic()
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with self.heartbeat.busy():
                await self.process_once()
            if max_messages is not None and self.processed >= max_messages:
                break
            now = time.monotonic()
            if now - last_health > HEALTH_CHECK_SECONDS:
                last_health = now
                await loop.run_in_executor(self._signing, self.app.health_check)
            if now - last_expiry > EXPIRY_WARNING_SECONDS:
                last_expiry = now
                self.app.registry.log_expiry_warnings()


def _traced(record: Any) -> list[tuple[str, bytes]]:
    """The trace headers for a request's results: a span that continues the request's trace."""
    given = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ()) if k in TRACE_HEADERS and v}
    with consuming(record.topic, record.partition, record.offset, given):
        return [(k, v.encode()) for k, v in current_headers().items()]


def outcome_message(result: SignResult) -> tuple[str, bytes] | None:
    """``(topic, value)`` of the result's outcome for the service owning its document type (None, logged,
    for a type no service owns: nobody could record it)."""
    owner = owner_of(result.doc_type)
    if owner is None:
        log.warning("signer: result of %s is for %r, a type no declaration service owns", result.request_id,
                    result.doc_type)
        return None
    return topics.feedback(owner, topics.FEEDBACK_SIGNED), result.outcome().to_json()


def too_large(result: SignResult, size: int, limit: int) -> SignResult:
    """A failed result in place of a signed one above the size limit (the document becomes "signing
    failed" and the saga alerts the sender), so the results partition goes on."""
    log.error("signer: result of %s is %d bytes, above %d; sent as a failure", result.request_id, size, limit)
    reason = f"the signed document makes a result of {size} bytes, above the limit of {limit} bytes"
    return SignResult(result.request_id, result.tenant, result.doc_type, result.clearance_key, False,
                      error=SignError(TOO_LARGE, reason))
