"""The customs link over AMQP on a real RabbitMQ node (`scripts/rabbitmq.sh`, started by `scripts/test.sh`):
a full 9610 clearance with the customs simulator behind the broker, and a broker restart that loses
nothing."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import dxp
from cbec.customs.amqp_link import AmqpLink
from cbec.customs.filedrop import Staged, waiting_files
from cbec.settings import Settings
from cbec_testkit.customs.amqp_node import AmqpCustomsNode
from cbec_testkit.embedded import EmbeddedStack, embedded_settings
from cbec_testkit.samples import declare_clearance
from cbec_testkit.tenants import demo_registry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node_names() -> dict[str, str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    return {"send_exchange": f"{prefix}.send", "send_queue": f"{prefix}.send",
            "receive_exchange": f"{prefix}.receive", "receive_queue": f"{prefix}.receive"}


@pytest.fixture
def link(amqp_url: str, node_names: dict[str, str]) -> Iterator[AmqpLink]:
    tenants = demo_registry()
    opened = AmqpLink(amqp_url, dxp_ids=[t.dxp_id for t in tenants.all()], **node_names)
    opened.fetch()  # connects and declares the node's queues
    yield opened
    channel = opened._open()
    for queue in (node_names["send_queue"], node_names["receive_queue"], opened.quarantine_queue):
        channel.queue_delete(queue)
    channel.exchange_delete(node_names["send_exchange"])
    channel.exchange_delete(node_names["receive_exchange"])
    opened.close()


def _waiting(link: AmqpLink, queue: str) -> int:
    return int(link._open().queue_declare(queue, passive=True).method.message_count)


def test_the_simulator_clears_a_9610_clearance_over_amqp(link: AmqpLink, amqp_url: str, node_names: dict[str, str],
                                                        tmp_path: Path) -> None:
    node = AmqpCustomsNode(amqp_url, tmp_path / "dxp" / "outbox", tmp_path / "dxp" / "inbox",
                           send_queue=node_names["send_queue"], receive_exchange=node_names["receive_exchange"])
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", transport=link,
                          customs_node=node.pump, settings=embedded_settings(Settings.from_environ({})))
    key = "3105960001:DEMO00000001"
    try:
        for command in declare_clearance(1, trade_mode="9610"):
            stack.submit(command)
        for _ in range(300):
            stack.step()
            if stack.saga.view(key)["documents"].get("inventory", {}).get("statusCode") == 800:
                break
        view = stack.saga.view(key)
        assert view["documents"]["inventory"]["statusCode"] == 800, view
        arrived = stack.simulator.clearance_arrivals[key]
        assert sorted(arrived[:2]) == ["CEB311", "CEB411"] and arrived[2:] == ["CEB511", "CEB621"], arrived
        # every document crossed the broker once, persistent, routed by its sending tenant's DXPID
        assert len(node.received) == 4 and len({m["name"] for m in node.received}) == 4
        tenants = demo_registry()
        for message in node.received:
            sender = tenants.get(message["name"].split("_")[1])  # the customs code in the DXP file name
            assert message["persistent"] and message["routing_key"] == message["headers"]["dxpid"] == sender.dxp_id
        assert link.staged() == []
        # every receipt the simulator sent is stored and acknowledged: nothing waits in the receive queue
        for _ in range(5):
            stack.step()
        assert _waiting(link, node_names["receive_queue"]) == 0
        assert waiting_files(node.inbox) == []
    finally:
        node.close()
        stack.close()


def _broker(command: str) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "rabbitmq.sh"), command], check=True, capture_output=True,
                   timeout=180)


def test_a_broker_restart_loses_no_receipt_and_the_link_reconnects_to_send(
        link: AmqpLink, amqp_url: str, node_names: dict[str, str], tmp_path: Path) -> None:
    stack_dir = os.environ.get("CBEC_STACK_DIR", "")
    if not (Path(stack_dir) / "rabbitmq" / "rabbitmq.env").exists():
        pytest.skip("the RabbitMQ node was not started by scripts/test.sh: this test cannot restart it")
    node = AmqpCustomsNode(amqp_url, tmp_path / "out", tmp_path / "in", send_queue=node_names["send_queue"],
                           receive_exchange=node_names["receive_exchange"])
    node.publish("CEB312Message_3105960001_20261207120000_00001.xml", b"<receipt/>", "DXPENT0000000001")
    node.close()
    [held] = link.fetch()  # fetched, not yet stored: unacknowledged when the broker goes down

    _broker("restart")

    again = _wait_for(link.fetch)
    assert [r.name for r in again] == [held.name]
    link.acknowledge(held.name)
    name = link.free_name("CEB311", "3105960001", datetime.now(UTC))
    data = dxp.wrap(b"<o/>", msg_type="CEB311Message", sender_id="DXPENT0000000001", receiver_ids=["X"],
                    created=datetime.now(UTC), file_name=name)
    link.stage([Staged("t", name, data)])
    assert link.hand_over([Staged("t", name)]) == 1
    assert _waiting(link, node_names["send_queue"]) == 1
    assert link.fetch() == []


def _wait_for(fetch: Any) -> list[Any]:
    import time

    for _ in range(100):
        got = fetch()
        if got:
            return list(got)
        time.sleep(0.2)
    return []


def test_a_link_receives_only_the_receipts_routed_to_the_dxpids_of_its_tenants(
        amqp_url: str, node_names: dict[str, str], tmp_path: Path) -> None:
    from pika.exceptions import UnroutableError

    link = AmqpLink(amqp_url, dxp_ids=["DXPENT0000000001"], **node_names)
    link.fetch()  # declares the queues, the receive queue bound to its tenant's DXPID only
    node = AmqpCustomsNode(amqp_url, tmp_path / "out", tmp_path / "in", send_queue=node_names["send_queue"],
                           receive_exchange=node_names["receive_exchange"])
    try:
        node.publish("CEB312Message_3105960001_20261207120000_00001.xml", b"<mine/>", "DXPENT0000000001")
        with pytest.raises(UnroutableError):  # no queue of this node takes another enterprise's receipts
            node.publish("CEB312Message_4403960001_20261207120000_00002.xml", b"<theirs/>", "DXPENT0000000009")

        assert [r.data for r in _wait_for(link.fetch)] == [b"<mine/>"]
    finally:
        node.close()
        channel = link._open()
        for queue in (node_names["send_queue"], node_names["receive_queue"], link.quarantine_queue):
            channel.queue_delete(queue)
        channel.exchange_delete(node_names["send_exchange"])
        channel.exchange_delete(node_names["receive_exchange"])
        link.close()
