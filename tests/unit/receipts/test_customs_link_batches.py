"""The customs link records a consumer batch of sign results, and a poll's receipt files, in one
transaction each; redelivery and repeats change nothing, and a bad message is set aside alone."""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cbec.bus.in_process import InProcessBus
from cbec.contracts import topics
from cbec.contracts.dead_letter import DEAD_LETTERED
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import ORDER
from cbec.service import Service, attach
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import Append
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER
from cbec_testkit.customs.simulator import CustomsSimulator, Verdict
from cbec_testkit.samples import declare_orders
from cbec_testkit.tenants import demo_registry
from receipts_service import bootstrap
from receipts_service.application import RECEIPT_RECEIVED, TRANSMITTED

SETTINGS = Settings.from_environ({"CBEC_PII_HMAC_KEY": "test-key"})
GROUP = "cbec-receipts"


def _result(n: int) -> SignResult:
    document = declare_orders(1, start=n)[0].document
    document["OrderHead"].update(guid=f"{n:08d}-0000-0000-0000-000000000000", appType="1",
                                 appTime="20261124100000", appStatus="2")
    xml = ceb_bridge.render(ORDER, document, {"copCode": "3105960001", "copName": "示例", "dxpMode": "DXP",
                                              "dxpId": "DXPENT0000000001"})
    return SignResult(f"CEB311:stream-{n}:2", "3105960001", "CEB311", f"3105960001:DEMO{n:08d}", True,
                      base64.b64encode(xml).decode())


class Link:
    """The customs link service on SQLite and an in-process bus; counts its store's transactions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = EventStore.open(f"sqlite:///{root / 'receipts.db'}", schema="receipts", name="receipts")
        self.transactions = 0
        append_batch = self.store.append_batch

        def counting(appends: Sequence[Append], **kwargs: Any) -> list[int]:
            self.transactions += 1
            return append_batch(appends, **kwargs)

        self.store.append_batch = counting  # type: ignore[method-assign]
        self.link = FileDropLink(root / "outbox", root / "inbox")
        self.bus = InProcessBus()
        self.service: Service = bootstrap.build(SETTINGS, demo_registry(), self.store, self.link)
        self.relays = attach(self.service, self.bus)
        self.notification = 0

    def sign_result(self, result: SignResult | bytes, notification: int | None = None) -> None:
        """As the signer's relay publishes it (its notification id dedupes a republished copy)."""
        if notification is None:
            self.notification += 1
            notification = self.notification
        value = result if isinstance(result, bytes) else result.to_json()
        self.bus.publish(topics.SIGN_RESULTS, "k", value, {SOURCE_HEADER: "signer",
                                                           NOTIFICATION_HEADER: str(notification)})

    def sent(self) -> list[Path]:
        return sorted(self.link.outbox.glob("*.xml"))

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [e.data for e in self.store.notifications(1, 100_000) if e.type == event_type]


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Link]:
    opened = Link(tmp_path)
    yield opened
    opened.store.close()


def test_a_batch_of_sign_results_is_one_transaction_and_each_document_goes_out_once(link: Link) -> None:
    for n in range(1, 11):
        link.sign_result(_result(n))
    assert link.bus.drain() == 10
    assert link.transactions == 1  # ten transmissions, their indexes and the position together
    assert len(link.sent()) == 10 and not list(link.link.outbox.glob(".*.part"))
    assert len(link.events(TRANSMITTED)) == 10


def test_a_redelivered_batch_and_a_republished_result_send_nothing_twice(link: Link) -> None:
    for n in range(1, 6):
        link.sign_result(_result(n))
    link.bus.drain()
    link.bus.rewind(GROUP, topics.SIGN_RESULTS)  # the consumer crashed before committing its offsets
    link.bus.drain()
    link.sign_result(_result(3), notification=3)  # the signer's relay republished after a crash
    link.sign_result(_result(4))  # the signer signed the same request again (new notification id)
    link.sign_result(_result(6))
    link.bus.drain()
    assert len(link.sent()) == 6 and len(link.events(TRANSMITTED)) == 6


def test_a_batch_with_one_broken_message_is_redone_one_by_one_and_only_that_one_is_dead_lettered(
        link: Link) -> None:
    link.sign_result(_result(1))
    link.sign_result(b'{"not": "a sign result"}')
    link.sign_result(_result(2))
    link.bus.drain()
    assert len(link.sent()) == 2 and len(link.events(DEAD_LETTERED)) == 1
    assert link.bus.lag(GROUP, topics.SIGN_RESULTS) == 0


def test_a_poll_of_receipt_files_is_one_transaction_and_a_repeated_file_is_ignored(link: Link) -> None:
    for n in range(1, 5):
        link.sign_result(_result(n))
    link.bus.drain()
    simulator = CustomsSimulator(link.link.outbox, link.link.inbox, verify=lambda xml: Verdict(True),
                                 rng=random.Random(1))
    simulator.poll()
    files = link.link.receipts()
    assert len(files) == 8  # 2 and 120 for each order
    copy = link.link.inbox / f"copy-{uuid.uuid4().hex[:6]}.xml"
    link.transactions = 0
    assert link.service.app.poll_inbox() == 8
    assert link.transactions == 1 and link.link.receipts() == []
    archived = link.link.archived()
    copy.write_bytes(archived[0].read_bytes())  # the same receipt again, in a file of another name
    (link.link.inbox / archived[1].name).write_bytes(archived[1].read_bytes())  # the same file again
    assert link.service.app.poll_inbox() == 1  # the copy's receipt is new; the repeated file is not
    receipts = link.events(RECEIPT_RECEIVED)
    assert len(receipts) == 9 and len({r["receipt_id"] for r in receipts}) == 8


def test_a_batch_whose_commit_fails_writes_no_file_and_is_redone_one_by_one(link: Link) -> None:
    append_batch = link.store.append_batch
    failures = [RuntimeError("the database went away at commit")]

    def failing_once(appends: Sequence[Append], **kwargs: Any) -> list[int]:
        if failures and len(appends) > 2:  # the batch's commit, not a single document's
            assert link.sent() == []  # recorded before written: nothing is on disk yet
            raise failures.pop()
        return append_batch(appends, **kwargs)

    link.store.append_batch = failing_once  # type: ignore[method-assign]
    for n in range(1, 5):
        link.sign_result(_result(n))
    link.bus.drain()
    assert not failures and len(link.sent()) == 4 and len(link.events(TRANSMITTED)) == 4


def test_a_batch_whose_commit_landed_but_was_reported_lost_still_sends_each_file_once(link: Link) -> None:
    """The database restarts during COMMIT: the transaction is durable but the client sees an error.
    The redo finds every transmission recorded, so the staged files are handed over, not forgotten."""
    append_batch = link.store.append_batch
    failures = [ConnectionError("server closed the connection during COMMIT")]

    def lost_answer_once(appends: Sequence[Append], **kwargs: Any) -> list[int]:
        ids = append_batch(appends, **kwargs)
        if failures and len(appends) > 2:
            assert link.sent() == []  # nothing visible to customs before the commit's answer
            raise failures.pop()
        return ids

    link.store.append_batch = lost_answer_once  # type: ignore[method-assign]
    for n in range(1, 5):
        link.sign_result(_result(n))
    link.bus.drain()
    assert not failures
    transmitted = link.events(TRANSMITTED)
    assert len(transmitted) == 4
    assert sorted(p.name for p in link.sent()) == sorted(t["file_name"] for t in transmitted)
    assert link.link.staged() == []


def test_a_link_killed_between_the_commit_and_the_hand_over_hands_the_files_over_after_restart(
        tmp_path: Path) -> None:
    first = Link(tmp_path)

    def killed(files: Sequence[Any]) -> int:
        raise SystemExit("kill -9")

    first.link.hand_over = killed  # type: ignore[method-assign]
    for n in range(1, 4):
        first.sign_result(_result(n))
    with pytest.raises(SystemExit):
        first.bus.drain()
    assert first.sent() == [] and len(first.events(TRANSMITTED)) == 3
    first.store.close()

    restarted = Link(tmp_path)
    stray = tmp_path / "outbox" / ".cbec-staging" / f"{uuid.uuid4()}~CEB311Message_stray.xml"
    stray.write_bytes(b"<staged by a transaction that never committed/>")
    app = restarted.service.app
    assert app.settle_staged(grace=0) == 3  # recorded: handed over; the stray one: discarded
    assert len(restarted.sent()) == 3 and restarted.link.staged() == []
    assert app.settle_staged(grace=0) == 0
    restarted.store.close()


def test_a_file_another_process_staged_moments_ago_is_left_to_it(link: Link) -> None:
    """A replica on the same outbox may be between staging and committing: its files are settled by
    others only once older than the grace period."""
    ticket = str(uuid.uuid4())
    staging = link.link.staging
    staging.mkdir(parents=True, exist_ok=True)
    (staging / f"{ticket}~CEB311Message_other.xml").write_bytes(b"<x/>")
    app = link.service.app
    app.settle_staged()  # default grace
    assert [s.ticket for s, _ in link.link.staged()] == [ticket]
    app.settle_staged(grace=0)
    assert link.link.staged() == []


def test_a_transport_that_is_away_at_hand_over_costs_no_dead_letter_and_the_files_go_out_when_it_is_back(
        link: Link) -> None:
    """The broker or gateway is down after the commit: the sign results are done (recorded), the files
    stay staged, and a later settle hands them over; nothing is dead-lettered, nothing is sent twice."""
    hand_over = link.link.hand_over
    away = [True]

    def flaky(files: Sequence[Any]) -> int:
        if away[0]:
            raise ConnectionError("transport away")
        return hand_over(files)

    link.link.hand_over = flaky  # type: ignore[method-assign]
    for n in range(1, 4):
        link.sign_result(_result(n))
    link.bus.drain()
    assert link.sent() == [] and len(link.link.staged()) == 3
    assert link.events(DEAD_LETTERED) == [] and link.bus.lag(GROUP, topics.SIGN_RESULTS) == 0
    away[0] = False
    assert link.service.app.settle_staged() == 3
    assert len(link.sent()) == 3 and link.link.staged() == []
