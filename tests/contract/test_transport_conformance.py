"""One contract for every customs transport (`cbec.customs.transport.Transport`): the file drop, the HTTP
gateway (in front of the test kit's fake gateway) and AMQP (on a real RabbitMQ node, started by
`scripts/test.sh`; integration-marked, so it fails rather than skips under CI).

Each test reads as customs sees it: `Customs` is the other end of the transport under test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import dxp, safe_xml
from cbec.customs import amqp_link, filedrop, http_link
from cbec.customs.amqp_link import AmqpLink
from cbec.customs.filedrop import FileDropLink, Received, Staged, waiting_files, write_atomically
from cbec.customs.http_link import HttpGatewayLink
from cbec.customs.transport import Transport
from cbec.errors import CebValidationError
from cbec_testkit.customs.amqp_node import AmqpCustomsNode
from cbec_testkit.customs.gateway import fake_gateway
from fastapi.testclient import TestClient

TENANT_DXP_ID = "DXPENT0000000001"
WHEN = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


class Customs:
    """The customs end of one transport: what reached it, and receipts it sends back."""

    remembers_acknowledgements = True  # a restarted link does not fetch what it acknowledged before
    link: Transport

    def reconnect(self) -> Transport:
        """The link a restarted process opens on the same endpoints."""
        raise NotImplementedError

    def sent(self) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    def send_receipt(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def send_hostile(self) -> int:
        """Malformed messages of this transport's own kind; returns how many."""
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""


class FileDropCustoms(Customs):
    def __init__(self, root: Path) -> None:
        self.outbox, self.inbox = root / "outbox", root / "inbox"
        self.link = FileDropLink(self.outbox, self.inbox)

    def reconnect(self) -> Transport:
        self.link = FileDropLink(self.outbox, self.inbox)
        return self.link

    def sent(self) -> list[tuple[str, bytes]]:
        return [(name, (self.outbox / name).read_bytes()) for name in waiting_files(self.outbox)]

    def send_receipt(self, name: str, data: bytes) -> None:
        write_atomically(self.inbox, name, data)

    def send_hostile(self) -> int:
        os.mkfifo(self.inbox / "CEB312Message_a_pipe_not_a_file.xml")  # would block a naive reader
        return 1


class GatewayCustoms(Customs):
    remembers_acknowledgements = False  # its query cursors live in memory: a restart reads again (deduped)

    def __init__(self, root: Path) -> None:
        self.outbox, self.inbox = root / "gateway-out", root / "gateway-in"
        self.outbox.mkdir()
        self.inbox.mkdir()
        self.app = fake_gateway(self.outbox, self.inbox)
        self.client = TestClient(self.app)
        self.link = self.reconnect()

    def reconnect(self) -> Transport:
        self.link = HttpGatewayLink("http://testserver", TENANT_DXP_ID, client=self.client)
        return self.link

    def sent(self) -> list[tuple[str, bytes]]:
        return [(name, (self.outbox / name).read_bytes()) for name in waiting_files(self.outbox)]

    def send_receipt(self, name: str, data: bytes) -> None:
        write_atomically(self.inbox, name, data)

    def send_hostile(self) -> int:
        self.app.state.extra = [{"name": "../../etc/passwd", "data": "A"}, "not an object", {"name": "no-data"}]
        return 3

    def close(self) -> None:
        self.client.close()


class AmqpCustoms(Customs):
    def __init__(self, root: Path, url: str) -> None:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        self.url = url
        self.names: dict[str, Any] = {"send_exchange": f"{prefix}.send", "send_queue": f"{prefix}.send",
                                      "receive_exchange": f"{prefix}.receive", "receive_queue": f"{prefix}.receive"}
        self.link = self.reconnect()
        self.node = AmqpCustomsNode(url, root / "customs-out", root / "customs-in",
                                    send_queue=self.names["send_queue"],
                                    receive_exchange=self.names["receive_exchange"])

    def reconnect(self) -> Transport:
        if isinstance(getattr(self, "link", None), AmqpLink):
            self.link.close()  # type: ignore[attr-defined]
        self.link = AmqpLink(self.url, **self.names)
        self.link.fetch()  # connects and declares the topology
        return self.link

    def sent(self) -> list[tuple[str, bytes]]:
        self.node.take_sent()
        return [(name, (self.node.outbox / name).read_bytes()) for name in waiting_files(self.node.outbox)]

    def send_receipt(self, name: str, data: bytes) -> None:
        self.node.publish(name, data, TENANT_DXP_ID)

    def send_hostile(self) -> int:
        self.node.publish(None, b"\x00\xff\xfe not xml at all", TENANT_DXP_ID)  # no name, no message id
        self.node.publish("../../etc/passwd", b"<a>unclosed", TENANT_DXP_ID, headers={"file_name": "../../etc/passwd"})
        return 2

    def close(self) -> None:
        assert isinstance(self.link, AmqpLink)
        channel = self.link._open()
        for queue in (self.names["send_queue"], self.names["receive_queue"], self.link.quarantine_queue):
            channel.queue_delete(queue)
        channel.exchange_delete(self.names["send_exchange"])
        channel.exchange_delete(self.names["receive_exchange"])
        self.link.close()
        self.node.close()


@pytest.fixture(params=["filedrop", "http-gateway", pytest.param("amqp", marks=pytest.mark.integration)])
def customs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Customs]:
    side: Customs
    if request.param == "filedrop":
        side = FileDropCustoms(tmp_path)
    elif request.param == "http-gateway":
        side = GatewayCustoms(tmp_path)
    else:
        side = AmqpCustoms(tmp_path, request.getfixturevalue("amqp_url"))
    try:
        yield side
    finally:
        side.close()


def _outgoing(link: Transport, n: int) -> Staged:
    name = link.free_name("CEB311", "3105960001", WHEN)
    envelope = dxp.wrap(f"<order n='{n}'/>".encode(), msg_type="CEB311Message", sender_id=TENANT_DXP_ID,
                        receiver_ids=["DXPEDCEBIMP0001"], created=WHEN, file_name=name)
    return Staged(str(uuid.uuid4()), name, envelope)


def _receipt(n: int) -> tuple[str, bytes]:
    return f"CEB312Message_3105960001_20261207120000_{n:05d}.xml", f"<receipt n='{n}'/>".encode()


def _fetch(link: Transport) -> list[Received]:
    return link.fetch()


def test_a_handed_over_message_reaches_customs_once_even_if_handed_over_again(customs: Customs) -> None:
    first, second = _outgoing(customs.link, 1), _outgoing(customs.link, 2)
    customs.link.stage([first, second])

    assert customs.link.hand_over([first, second]) == 2
    assert customs.link.hand_over([first, second]) == 0  # a settle repeating the hand-over sends nothing

    assert sorted(customs.sent()) == sorted([(first.name, first.data), (second.name, second.data)])
    assert customs.link.staged() == []


def test_transmit_many_delivers_each_message_once(customs: Customs) -> None:
    files = [(f.name, f.data) for f in (_outgoing(customs.link, n) for n in range(3))]

    customs.link.transmit_many(files)

    assert sorted(customs.sent()) == sorted(files)


def test_a_staged_message_is_invisible_to_customs_until_handed_over(customs: Customs) -> None:
    staged = _outgoing(customs.link, 1)
    customs.link.stage([staged])

    assert customs.sent() == []
    [(listed, age)] = customs.link.staged()
    assert listed == Staged(staged.ticket, staged.name) and age >= 0

    customs.link.hand_over([Staged(staged.ticket, staged.name)])  # as a settle does: by ticket and name
    assert customs.sent() == [(staged.name, staged.data)]


def test_a_discarded_message_never_reaches_customs(customs: Customs) -> None:
    staged = _outgoing(customs.link, 1)
    customs.link.stage([staged])

    customs.link.discard([Staged(staged.ticket, staged.name)])

    assert customs.link.staged() == []
    assert customs.link.hand_over([staged]) == 0
    assert customs.sent() == []


def test_fetch_returns_the_receipts_customs_sent(customs: Customs) -> None:
    receipts = [_receipt(1), _receipt(2)]
    for name, data in receipts:
        customs.send_receipt(name, data)

    fetched = _fetch(customs.link)

    assert sorted((r.name, r.data) for r in fetched) == receipts
    assert all(r.problem == "" for r in fetched)


def test_an_acknowledged_receipt_is_not_delivered_again(customs: Customs) -> None:
    customs.send_receipt(*_receipt(1))
    [received] = _fetch(customs.link)

    customs.link.acknowledge(received.name)

    assert _fetch(customs.link) == []
    if customs.remembers_acknowledgements:
        assert _fetch(customs.reconnect()) == []


def test_unacknowledged_receipts_come_back_after_a_restart(customs: Customs) -> None:
    for n in (1, 2):
        customs.send_receipt(*_receipt(n))
    fetched = _fetch(customs.link)
    assert len(fetched) == 2
    customs.link.acknowledge(_receipt(1)[0])  # the process stops before it stored the second

    again = _fetch(customs.reconnect())

    assert _receipt(2) in [(r.name, r.data) for r in again]
    if customs.remembers_acknowledgements:
        assert [r.name for r in again] == [_receipt(2)[0]]


def test_a_hostile_message_comes_with_a_clear_problem_and_never_crashes_the_link(customs: Customs) -> None:
    count = customs.send_hostile()

    fetched = _fetch(customs.link)

    assert len(fetched) == count
    for message in fetched:
        assert "/" not in message.name and not message.name.startswith(".")
        if not message.problem:  # delivered as it came: the parser refuses it with a coded error
            with pytest.raises(CebValidationError) as refused:
                safe_xml.parse_xml(message.data)
            assert refused.value.errors[0].code.startswith("CBEC-")
    for message in fetched:  # and it can be put aside like any other
        customs.link.quarantine(message.name)
    assert _fetch(customs.link) == []


def test_an_oversized_receipt_is_cut_at_the_limit_and_refused_as_oversize(customs: Customs,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    limit = 64 * 1024
    for module in (filedrop, http_link, amqp_link):
        monkeypatch.setattr(module, "MAX_BYTES", limit)
    name = _receipt(1)[0]
    customs.send_receipt(name, b"<receipt>" + b"x" * (2 * limit) + b"</receipt>")

    [received] = _fetch(customs.link)

    assert received.name == name and len(received.data) == limit + 1
    with pytest.raises(CebValidationError) as refused:
        safe_xml.parse_xml(received.data, max_bytes=limit)
    assert refused.value.errors[0].code == "CBEC-XML-SIZE"
