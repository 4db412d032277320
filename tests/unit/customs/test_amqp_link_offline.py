"""The AMQP link without a broker: sending fails clearly and keeps the message staged; receiving waits."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from cbec.ceb import dxp
from cbec.customs.amqp_link import AmqpLink, TransportError, receipt_name, sender_dxp_id
from cbec.customs.filedrop import Staged

WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def _link() -> AmqpLink:
    return AmqpLink(f"amqp://guest:guest@127.0.0.1:{_closed_port()}/%2F?connection_attempts=1", idle_wait=5)


def _staged(link: AmqpLink) -> Staged:
    name = link.free_name("CEB311", "3105960001", WHEN)
    data = dxp.wrap(b"<o/>", msg_type="CEB311Message", sender_id="DXPENT0000000001", receiver_ids=["X"],
                    created=WHEN, file_name=name)
    return Staged("ticket", name, data)


def test_a_hand_over_to_an_unreachable_broker_raises_clearly_and_keeps_the_message_staged() -> None:
    link = _link()
    staged = _staged(link)
    link.stage([staged])

    with pytest.raises(TransportError, match="not reachable"):
        link.hand_over([Staged(staged.ticket, staged.name)])

    assert [s for s, _ in link.staged()] == [Staged(staged.ticket, staged.name)]


def test_an_unreachable_broker_yields_no_receipts_and_the_poller_waits() -> None:
    link = _link()

    assert link.fetch() == []
    assert link.fetch() == []  # not tried again before the wait is over
    assert 4 < link.idle() <= 5


def test_the_routing_key_is_the_senders_dxpid_and_a_message_without_one_is_refused() -> None:
    link = _link()
    assert sender_dxp_id(_staged(link).data) == "DXPENT0000000001"
    with pytest.raises(ValueError, match="SenderId"):
        sender_dxp_id(b"<not-a-dxp-message/>")


def test_a_received_message_keeps_a_safe_name_or_gets_one_from_its_content() -> None:
    assert receipt_name({"file_name": b"CEB312Message_a.xml"}, None, b"x") == "CEB312Message_a.xml"
    assert receipt_name(None, "CEB312Message_b.xml", b"x") == "CEB312Message_b.xml"
    hostile = receipt_name({"file_name": "../../etc/passwd"}, "\x00", b"x")
    assert hostile == receipt_name(None, None, b"x") and "/" not in hostile
    assert receipt_name(None, None, b"x") != receipt_name(None, None, b"y")


def test_names_are_not_repeated_within_a_second() -> None:
    link = _link()
    names = {link.free_name("CEB311", "3105960001", WHEN) for _ in range(500)}
    assert len(names) == 500
