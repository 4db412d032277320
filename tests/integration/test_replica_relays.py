"""Two replicas of a service on one database: only the holder of the outbox's lease publishes, so
every event goes out once; when the holder is killed, the other replica takes over and nothing is lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.doctypes import BY_CODE
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER
from cbec_testkit.samples import PLATFORM, order_document
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from service_processes import fast_forward, process_env

pytestmark = pytest.mark.integration

DOWNSTREAM = ("cbec-signer", "cbec-saga")


class Replicas:
    """``cbec run order`` twice, with the same settings (same schema, same consumer group)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for index in range(2):
            log = open(self.logs / f"order-{index}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=self.env,
                                               stdout=log, stderr=subprocess.STDOUT))
        for index in range(2):
            # the process's own line ("already exists" in a traceback holds "ready" too)
            eventually(lambda index=index: "cbec order: ready" in self.log(index), self, 120)

    def log(self, index: int) -> str:
        return (self.logs / f"order-{index}.log").read_text(errors="replace")

    def holder(self) -> int:
        # the outbox's lease: other leases of the service (e.g. the 179 uploader's) may sit with the other replica
        [index] = [i for i in range(2) if any("lease" in line and ".outbox:" in line and "taken" in line
                                              for line in self.log(i).splitlines())]
        return index

    def tails(self) -> str:
        return "\n".join(f"--- order-{i}\n{self.log(i)[-2000:]}" for i in range(len(self.procs)))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def eventually(check: Callable[[], bool], replicas: Replicas, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    pytest.fail("condition not met in time\n" + replicas.tails())


class Published:
    """What the replicas' outbox published to the order events topic, by notification id."""

    def __init__(self, bootstrap: str, source: str) -> None:
        self.source = source
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        topic = topics.events("order")
        partitions = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic) or {0}]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        self.ids: Counter[int] = Counter()

    def read(self) -> Counter[int]:
        for records in self.consumer.poll(timeout_ms=500).values():
            for record in records:
                headers = {k: v.decode() for k, v in record.headers or []}
                if headers.get(SOURCE_HEADER) == self.source:
                    self.ids[int(headers[NOTIFICATION_HEADER])] += 1
        return self.ids


def declare(producer: KafkaProducer, numbers: range) -> None:
    for n in numbers:
        document = order_document(n, random.Random(n), lines=1)
        command = DeclareDocument(f"o-{n}", PLATFORM, "CEB311", document)
        key = ":".join(BY_CODE["CEB311"].business_key(document))
        producer.send("cbec.in.order", key=key.encode(), value=command.to_json())
    producer.flush()


def test_two_replicas_publish_each_event_once_and_the_survivor_takes_over(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    fast_forward(kafka_bootstrap, ("cbec-order",))
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_PII_HMAC_KEY="integration-test-key")
    published = Published(kafka_bootstrap, env["CBEC_SCHEMA_PREFIX"] + "order")
    replicas = Replicas(env, tmp_path / "logs")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    base = int(time.time() * 1000) % 100_000_000
    try:
        replicas.start()
        declare(producer, range(base, base + 10))
        eventually(lambda: len(published.read()) >= 10, replicas)
        time.sleep(3)  # a second relay would have published its copies by now
        published.read()
        assert set(published.ids.values()) == {1}, f"published more than once: {published.ids}"

        holder = replicas.holder()
        replicas.procs[holder].kill()  # no shutdown: its session ends with the process
        before = len(published.ids)
        declare(producer, range(base + 10, base + 20))
        eventually(lambda: len(published.read()) >= before + 10, replicas, timeout=90)
        assert "taken" in replicas.log(1 - holder), "the survivor took the lease"
    finally:
        producer.close()
        published.consumer.close()
        replicas.stop()
        fast_forward(kafka_bootstrap, DOWNSTREAM)
