"""On real Kafka and Postgres: a service process says it is ready only once its consumer holds partitions."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from service_processes import fast_forward, process_env

pytestmark = pytest.mark.integration


def describe(admin: KafkaAdminClient, group: str) -> dict[str, Any]:
    description: dict[str, Any] = admin.describe_groups([group])[group]
    return description


def assigned_partitions(description: dict[str, Any]) -> int:
    """How many partitions the group's members hold, as the coordinator tells it."""
    count = 0
    for member in description.get("members") or []:
        assignment = member.get("member_assignment")
        topics = getattr(assignment, "assigned_partitions", None) or (
            assignment.get("assigned_partitions") if isinstance(assignment, dict) else None) or []
        for entry in topics:
            partitions = entry[1] if isinstance(entry, (tuple, list)) else entry.get("partitions", [])
            count += len(partitions)
    return count


def test_the_ready_file_appears_only_after_the_consumer_got_its_partitions(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    fast_forward(kafka_bootstrap, ("cbec-order",))
    ready = tmp_path / "order.ready"
    ready.write_text("stale")  # left behind by a previous process
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_READY_FILE=str(ready))
    log = tmp_path / "order.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=env, stdout=output,
                                stderr=subprocess.STDOUT)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        deadline = time.monotonic() + 120
        while not (ready.exists() and ready.read_text() == "order"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        group = describe(admin, "cbec-order")
        assert group["group_state"] == "Stable" and group["members"], group
        # A member of an earlier test's process may still be leaving the shared group; the coordinator's
        # view of the assignment settles within a session timeout.
        settle = time.monotonic() + 15
        while assigned_partitions(group) == 0 and time.monotonic() < settle:
            time.sleep(0.5)
            group = describe(admin, "cbec-order")
        assert assigned_partitions(group) > 0, group
        assert "cbec order: ready" in log.read_text(errors="replace")
    finally:
        admin.close()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert not ready.exists()
