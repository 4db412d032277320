"""A newcomer's first clearance: `cbec up`, four enterprises publish with a Kafka client, the list is released.

Nothing but `cbec up` is configured (no CBEC_* settings, no servers given). A separate process, standing
in for kcat, publishes one clearance's list, waybill, payment and order (in reverse prerequisite order),
each as JSON from its own demo enterprise. The signer must sign for all four, so the list reaches
released (800) on `cbec.out.status` and in `cbec status`; any "signing failed" fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.contracts.status import STATUS_TOPIC
from cbec_cli.stack_runtime import parse_env_lines
from cbec_testkit.samples import declare_clearance
from cbec_testkit.tenants import DEMO_TENANTS
from kafka import KafkaConsumer
from service_processes import CbecUpStack

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "cbec_cli.main"]
TOPICS = {doc_type: topic for topic, doc_type in INTAKE_TOPICS.items()}
RELEASED = 800

# The external client: kcat when installed, else this stand-in with kcat's producer interface
# (`-P -b BROKERS -t TOPIC -K DELIM`, one `key<DELIM>value` line per message on stdin); no cbec import.
KCAT_STAND_IN = """
import argparse, sys
from kafka import KafkaProducer

cli = argparse.ArgumentParser()
cli.add_argument("-P", action="store_true")
cli.add_argument("-b", required=True)
cli.add_argument("-t", required=True)
cli.add_argument("-K", required=True)
args = cli.parse_args()
producer = KafkaProducer(bootstrap_servers=args.b, acks="all")
for line in sys.stdin.buffer:
    key, _, value = line.rstrip(b"\\n").partition(args.K.encode())
    producer.send(args.t, key=key, value=value)
producer.flush()
producer.close()
"""


def newcomer_env() -> dict[str, str]:
    """A shell with no cbec settings and no servers: `cbec up` starts and configures everything."""
    given = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SOFTHSM2_CONF")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBEC_") and k not in given}
    env["CBEC_SIMULATOR_DELAY"] = "0"  # customs answers at once; the only setting the test adds
    return env


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[CbecUpStack, str]]:
    """`cbec up` in a fresh stack dir; yields the stack and what `cbec up` printed; `cbec down` after."""
    if shutil.which("java") is None and os.environ.get("CBEC_REQUIRE_INTEGRATION") != "1":
        pytest.skip("no java on this machine (CI requires it and fails instead)")
    running = CbecUpStack(newcomer_env(), tmp_path / "stack")
    try:
        up = subprocess.run([*CLI, "up", "--dir", str(running.stack_dir), "--wait", "180"], env=running.env,
                            capture_output=True, text=True, timeout=600)
        if up.returncode != 0:
            pytest.fail(f"cbec up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}\n{running.tails()}")
        yield running, up.stdout + up.stderr
    finally:
        running.down()


def publish_with_kcat(bootstrap: str, topic: str, key: str, command: bytes, tmp_path: Path) -> None:
    """`printf '%s|%s\\n' KEY JSON | kcat -P -b BOOTSTRAP -t TOPIC -K '|'`, as the README shows."""
    kcat = shutil.which("kcat")
    if kcat is not None:
        client = [kcat]
    else:
        script = tmp_path / "kcat_stand_in.py"
        script.write_text(KCAT_STAND_IN)
        client = [sys.executable, str(script)]
    line = key.encode() + b"|" + command + b"\n"
    client_env = {k: v for k, v in os.environ.items() if not k.startswith("CBEC_")}
    done = subprocess.run([*client, "-P", "-b", bootstrap, "-t", topic, "-K", "|"], input=line,
                          capture_output=True, timeout=60, env=client_env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def went_wrong(message: dict[str, Any]) -> bool:
    """A document whose signing failed (status `signing failed`) or an alert (`alert signing … failed`)."""
    return "signing failed" in message["status"] or message.get("type") == "ClearanceAlert"


def statuses_until_released(bootstrap: str, clearance_key: str, timeout: float) -> list[dict[str, Any]]:
    """This clearance's `cbec.out.status` messages, until its list is released or something failed."""
    consumer = KafkaConsumer(STATUS_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for record in consumer:
                message = json.loads(record.value)
                if message.get("clearanceKey") != clearance_key:
                    continue
                seen.append(message)
                if went_wrong(message):
                    return seen
                if message["docType"] == "CEB621" and message.get("statusCode") == RELEASED:
                    return seen
    finally:
        consumer.close()
    return seen


def test_four_enterprises_publish_with_kafka_and_their_list_is_released(
        stack: tuple[CbecUpStack, str], tmp_path: Path) -> None:
    running, printed = stack
    signer = running.stack_dir.resolve() / "signer"
    for tenant in DEMO_TENANTS:  # cbec up says whose identities it made, and where
        line = next((line for line in printed.splitlines() if tenant["customsCode"] in line), "")
        assert tenant["name"] in line and str(signer / f"{tenant['customsCode']}.cer") in line, printed
    settings = parse_env_lines((running.stack_dir / "stack.env").read_text())
    bootstrap = settings["KAFKA_BOOTSTRAP_SERVERS"]

    order, payment, waybill, inventory = declare_clearance(int(time.time()) % 1_000_000)
    head = order.document["OrderHead"]
    clearance_key = f"{head['ebpCode']}:{head['orderNo']}"
    assert len({c.sender for c in (order, payment, waybill, inventory)}) == 4
    for command in (inventory, waybill, payment, order):  # each enterprise on its own; reverse prerequisite order
        publish_with_kcat(bootstrap, TOPICS[command.doc_type], clearance_key, command.to_json(), tmp_path)

    seen = statuses_until_released(bootstrap, clearance_key, timeout=240)
    story = "\n".join(f"{m['docType']} ({m['tenant']}): {m['status']} {m.get('reason', '')}" for m in seen)
    assert not [m for m in seen if went_wrong(m)], story
    assert any(m["docType"] == "CEB621" and m.get("statusCode") == RELEASED for m in seen), (
        f"{story}\n{running.tails()}")
    assert {m["tenant"] for m in seen} == {c.sender for c in (order, payment, waybill, inventory)}, story

    listed = inventory.document["InventoryHead"]
    status = subprocess.run([*CLI, "status", "CEB621", listed["agentCode"], listed["copNo"]],
                            env={**running.env, **settings}, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["statusCode"] == RELEASED, status.stdout
