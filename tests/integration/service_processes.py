"""Run cbec services as separate processes for integration tests, and keep shared Kafka groups apart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cbec.privacy.cipher import AesGcmCipher, KeyRing, new_key
from cbec.store.event_store import EventStore
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

GROUPS = ("cbec-order", "cbec-payment", "cbec-logistics", "cbec-inventory", "cbec-receipts", "cbec-saga",
          "cbec-webhooks", "cbec-signer")


def process_env(kafka_bootstrap: str, database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of one test's services: its own schemas (prefix) and DXP folders."""
    return {**os.environ, "CBEC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CBEC_DATABASE_URL": database_url,
            "CBEC_SCHEMA_PREFIX": f"t{uuid.uuid4().hex[:8]}_", "CBEC_DXP_OUTBOX": str(tmp_path / "dxp/outbox"),
            "CBEC_DXP_INBOX": str(tmp_path / "dxp/inbox"), "CBEC_PII_KEYS": f"k1:{new_key()}", **extra}


def fast_forward(bootstrap: str, groups: tuple[str, ...] = GROUPS) -> None:
    """Start the services' consumer groups at the end of every cbec topic.

    Kafka is shared by the whole test session and the groups are named per service, so without this
    a test's services would replay what earlier tests left on the topics.
    """
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    topics = [t for t in probe.topics() if t.startswith("cbec.")]
    partitions = [TopicPartition(t, p) for t in topics for p in probe.partitions_for_topic(t) or ()]
    probe.close()
    if not partitions:
        return
    for group in groups:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        try:
            ends = consumer.end_offsets(partitions)
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()}
            # A member of an earlier test may still be in the group until its session ends (kafka-python's
            # session timeout is 45 s; a member lost mid-rebalance can hold the group longer).
            for attempt in Retrying(retry=retry_if_exception_type(CommitFailedError), stop=stop_after_delay(150),
                                    wait=wait_fixed(1.0), reraise=True):
                with attempt:
                    consumer.commit(offsets)
        finally:
            consumer.close()


class ServiceProcesses:
    """`cbec run <name>` processes with their logs; stopped with SIGTERM like an orchestrator would."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.codes: dict[str, int | None] | None = None

    @property
    def schema_prefix(self) -> str:
        return self.env["CBEC_SCHEMA_PREFIX"]

    def open_store(self, service: str) -> EventStore:
        """A service's own event store, opened as the service opens it (same schema, same PII keys)."""
        cipher = AesGcmCipher(KeyRing.parse(self.env["CBEC_PII_KEYS"]))
        return EventStore.open(self.env["CBEC_DATABASE_URL"], schema=self.schema_prefix + service, name=service,
                               cipher=cipher)

    def migrate(self) -> None:
        """`cbec migrate`, as the chart's hook Job runs it before the services (production never migrates)."""
        done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "migrate"], env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    def start(self, *names: str) -> None:
        for name in names:
            log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", name], env=self.env,
                                                stdout=log, stderr=subprocess.STDOUT)
        for name in names:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        path = self.logs / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = path.read_text(errors="replace")
            if f"cbec {name}: ready" in text:  # its own line ("already exists" holds "ready" too)
                return
            if self.procs[name].poll() is not None:
                pytest.fail(f"{name} exited early:\n{text[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"{name} did not start:\n{path.read_text(errors='replace')[-3000:]}")

    def tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(self.logs.iterdir()))

    def stop(self) -> dict[str, int | None]:
        if self.codes is not None:
            return self.codes
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = None
        self.codes = codes
        return codes


class CbecUpStack:
    """The services started by `cbec up` (servers taken from the environment), stopped by `cbec down`."""

    def __init__(self, env: dict[str, str], stack_dir: Path) -> None:
        self.env, self.stack_dir = env, stack_dir
        self.logs = stack_dir / "services"
        self.down_output: str | None = None

    @property
    def schema_prefix(self) -> str:
        return self.env["CBEC_SCHEMA_PREFIX"]

    def up(self, *names: str, wait: float = 120) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "cbec_cli.main", "up", "--dir", str(self.stack_dir), "--services", ",".join(names),
             "--no-hsm", "--wait", str(wait)],
            env=self.env, capture_output=True, text=True, timeout=wait + 120)
        if done.returncode != 0:
            pytest.fail(f"cbec up failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{self.tails()}")

    def tails(self) -> str:
        if not self.logs.exists():
            return ""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def down(self) -> str:
        if self.down_output is None:
            done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "down", "--dir", str(self.stack_dir)],
                                  env=self.env, capture_output=True, text=True, timeout=180)
            self.down_output = done.stdout + done.stderr
        return self.down_output
