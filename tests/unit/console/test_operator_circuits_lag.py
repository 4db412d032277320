"""The operator view shows the notification circuits that are not closed (open, half-open once their probe is
due) from cbec.ops.notification-circuits, the latest change per tenant, and the consumer groups' lag
(committed offsets against end offsets), sampled at most every 30 s, as a chart with a table."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cbec.contracts import topics
from cbec.contracts.circuits import CircuitChanged
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service.accounts import Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.consumer_lag import MIN_EVERY, LagSampler, Partition, lag_of
from console_service.operator_agent import operator_agent
from console_service.operator_stats import MemoryStats, fold, keep_latest
from fastapi.testclient import TestClient

PLATFORM, PAYMENT = parties.PLATFORM, parties.PAYMENT_COMPANY
NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
PASSWORD = "a-long-enough-password"


def opened(tenant: str, at: datetime, probe_in: float, probes: int = 1) -> bytes:
    due = at + timedelta(seconds=probe_in)
    return CircuitChanged(tenant, "open", at.isoformat(), at.isoformat(), due.isoformat(), probes, "HTTP 503").to_json()


def closed(tenant: str, at: datetime) -> bytes:
    return CircuitChanged(tenant, "closed", at.isoformat()).to_json()


# -- circuits --------------------------------------------------------------------------------------------

def test_a_circuit_is_open_until_its_probe_is_due_then_half_open_and_gone_once_closed() -> None:
    stats = MemoryStats()
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PLATFORM, NOON, probe_in=60), NOON)
    assert stats.figures(NOON + timedelta(seconds=30)).circuits[PLATFORM].state == "open"
    circuit = stats.figures(NOON + timedelta(seconds=61)).circuits[PLATFORM]
    assert (circuit.state, circuit.probes, circuit.error, circuit.since) == ("half-open", 1, "HTTP 503", NOON)
    assert PLATFORM in stats.figures(NOON + timedelta(seconds=61)).tenants()
    stats.feed(topics.NOTIFICATION_CIRCUITS, closed(PLATFORM, NOON + timedelta(seconds=62)), NOON)
    assert stats.figures(NOON + timedelta(seconds=63)).circuits == {}


def test_a_redelivered_older_change_does_not_reopen_a_closed_circuit() -> None:
    table: dict[str, str] = {}
    keep_latest(table, PLATFORM, opened(PLATFORM, NOON, 5).decode())
    keep_latest(table, PLATFORM, closed(PLATFORM, NOON + timedelta(seconds=9)).decode())
    keep_latest(table, PLATFORM, opened(PLATFORM, NOON, 5).decode())  # at least once: it comes again
    assert json.loads(table[PLATFORM])["state"] == "closed"
    keep_latest(table, PLATFORM, opened(PLATFORM, NOON + timedelta(minutes=1), 5, probes=1).decode())
    assert json.loads(table[PLATFORM])["state"] == "open"


def test_an_unreadable_circuit_message_changes_nothing() -> None:
    assert fold(topics.NOTIFICATION_CIRCUITS, b'{"tenant": "3105960001", "state": "melted"}', NOON).circuit is None
    assert fold(topics.NOTIFICATION_CIRCUITS, b"[1]", NOON).circuit is None


@dataclass
class Record:
    topic: str
    partition: int


@dataclass
class Event:
    message: Record
    value: bytes


class Stream:
    """What the faust agent iterates: events of the source topics."""

    def __init__(self, values: Iterable[tuple[str, bytes]]) -> None:
        self.values = list(values)

    async def events(self) -> AsyncIterator[Event]:
        for topic, value in self.values:
            yield Event(Record(topic, 0), value)


def test_the_agent_keeps_each_tenants_latest_circuit_in_its_table() -> None:
    agent = operator_agent("127.0.0.1:1", partitions=1, datadir="/tmp/cbec-test-operator")
    assert topics.NOTIFICATION_CIRCUITS in agent.source_topics
    agent.circuits = {}  # the faust table's stand-in: a table is written only inside a running app's stream
    at = datetime.now(UTC) - timedelta(minutes=1)  # the agent dates arrivals by its clock
    stream = Stream([(topics.NOTIFICATION_CIRCUITS, opened(PLATFORM, at, 30)),
                     (topics.NOTIFICATION_CIRCUITS, b"[" * 200_000),  # poison: skipped, the agent goes on
                     (topics.NOTIFICATION_CIRCUITS, opened(PAYMENT, at, 30)),
                     (topics.NOTIFICATION_CIRCUITS, closed(PAYMENT, at + timedelta(seconds=40)))])
    asyncio.run(agent._consume(stream))
    assert agent.seen == 4 and set(agent.circuits) == {PLATFORM, PAYMENT}
    shown = agent.figures(at + timedelta(seconds=45)).circuits
    assert list(shown) == [PLATFORM] and shown[PLATFORM].state == "half-open"


# -- consumer lag ----------------------------------------------------------------------------------------

class Brokers:
    """A :class:`LagSource` over offsets set by the test (a broker's answers)."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[Partition, int]] = {}
        self.end: dict[Partition, int] = {}
        self.asked = 0
        self.down = False

    def groups(self) -> list[str]:
        self.asked += 1
        if self.down:
            raise ConnectionError("no broker")
        return [*self.commits, "someone-elses-group"]

    def committed(self, group: str) -> dict[Partition, int]:
        return dict(self.commits[group])

    def ends(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        return {p: self.end[p] for p in partitions if p in self.end}


def test_lag_is_the_messages_after_each_commit_up_to_the_end_added_up_per_group_and_topic() -> None:
    committed = {"cbec-order": {("cbec.in.order", 0): 10, ("cbec.in.order", 1): 4,
                                ("cbec.feedback.order.receipts", 0): 7},
                 "cbec-saga": {("cbec.order.events", 0): 12, ("cbec.gone", 0): 3}}
    ends = {("cbec.in.order", 0): 15, ("cbec.in.order", 1): 4, ("cbec.feedback.order.receipts", 0): 9,
            ("cbec.order.events", 0): 11}  # the saga committed past a truncated end; cbec.gone has none
    assert lag_of(committed, ends) == {("cbec-order", "cbec.in.order"): 5,
                                       ("cbec-order", "cbec.feedback.order.receipts"): 2,
                                       ("cbec-saga", "cbec.order.events"): 0}


def test_the_sampler_asks_at_most_every_30_s_keeps_an_hour_and_keeps_the_last_sample_when_the_brokers_fail() -> None:
    brokers, clock = Brokers(), [NOON]
    brokers.commits = {"cbec-order": {("cbec.in.order", 0): 1}}
    brokers.end = {("cbec.in.order", 0): 4}
    sampler = LagSampler(brokers, every=1.0, now=lambda: clock[0])
    assert sampler.every == MIN_EVERY

    first = asyncio.run(sampler.refresh())
    assert first is not None and first.lag == {("cbec-order", "cbec.in.order"): 3}
    assert "someone-elses-group" not in first.per_group()
    clock[0] += timedelta(seconds=10)
    assert asyncio.run(sampler.refresh()) is first and brokers.asked == 1  # a page asking again: no new sample

    for _ in range(130):  # 65 minutes of 30 s samples
        clock[0] += timedelta(seconds=30)
        asyncio.run(sampler.refresh())
    assert brokers.asked == 131 and len(sampler.samples) == 121  # the last hour's, both ends included

    brokers.down = True
    clock[0] += timedelta(seconds=30)
    last = sampler.latest()
    assert asyncio.run(sampler.refresh()) is last and sampler.failures == 1


# -- the page ---------------------------------------------------------------------------------------------

def client(stats: MemoryStats, sampler: LagSampler | None = None) -> TestClient:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User("ops", passwords.hash(PASSWORD), {}, platform_operator=True))
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts, {Environment.SANDBOX: None},
                           passwords=passwords, https_only=False, operator_stats={Environment.SANDBOX: stats},
                           consumer_lag={Environment.SANDBOX: sampler} if sampler else {})
    web = TestClient(create_app(config))
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert token
    assert web.post("/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token.group(1)},
                    follow_redirects=False).status_code == 303
    return web


def test_the_page_shows_open_circuits_and_the_groups_lag_as_a_chart_with_a_table() -> None:
    now = datetime.now(UTC)
    stats = MemoryStats()
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PLATFORM, now, probe_in=600, probes=3), now)
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PAYMENT, now - timedelta(minutes=5), probe_in=10), now)
    brokers = Brokers()
    brokers.commits = {"cbec-order": {("cbec.in.order", 0): 2}, "cbec-saga": {("cbec.order.events", 0): 9}}
    brokers.end = {("cbec.in.order", 0): 9, ("cbec.order.events", 0): 9}

    page = client(stats, LagSampler(brokers)).get("/operator").text

    circuits = page.split('id="table-circuits"')[1].split("</table>")[0]
    assert f"({PLATFORM})" in circuits and "circuit-open" in circuits and "<td>3</td><td>HTTP 503</td>" in circuits
    assert f"({PAYMENT})" in circuits and "circuit-half-open" in circuits
    assert 'id="chart-lag"' in page and 'id="chart-lag-history"' in page
    lag = page.split('id="table-lag"')[1].split("</table>")[0]
    assert "<td>cbec-order</td><td>cbec.in.order</td><td>7</td>" in lag
    assert "<td>cbec-saga</td><td>cbec.order.events</td><td>0</td>" in lag
    assert '<strong id="lag-total">7</strong>' in page


def test_without_a_sampler_or_an_open_circuit_the_page_says_so() -> None:
    page = client(MemoryStats()).get("/operator").text
    assert 'id="table-lag"' not in page
    circuits = page.split('id="table-circuits"')[1].split("</table>")[0]
    assert "全部闭合" in circuits


# -- poison on the agent's topics -----------------------------------------------------------------------

POISON = [b"[" * 200_000, b"{\"tenant\": " * 50_000, b"\xff\xfe not json", b"[1, 2]", b"{}",
          b"{\"tenant\": 1, \"state\": [\"open\"], \"changedAt\": {}, \"probes\": \"many\"}",
          b"{\"tenant\": \"" + b"A" * 200_000 + b"\"}"]


def test_a_poison_message_on_any_source_topic_changes_nothing_and_never_stops_the_agent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = MemoryStats()
    for topic in (topics.NOTIFICATION_CIRCUITS, topics.STATUS, topics.WEBHOOK_DEAD_LETTERS):
        for value in POISON:
            assert fold(topic, value, NOON).circuit is None  # never raises
            stats.feed(topic, value, NOON)
    assert stats.figures(NOON).circuits == {}
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PLATFORM, NOON, probe_in=60), NOON)  # and the next one counts
    assert PLATFORM in stats.figures(NOON).circuits
    assert "cbec.circuit/1" in caplog.text or "notification-circuit" in caplog.text


def test_a_circuit_change_dated_in_the_future_is_skipped_so_it_cannot_pin_a_tenant_s_circuit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = MemoryStats()
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PLATFORM, NOON + timedelta(days=3650), probe_in=60), NOON)
    stats.feed(topics.NOTIFICATION_CIRCUITS, closed(PLATFORM, NOON), NOON)
    stats.feed(topics.NOTIFICATION_CIRCUITS, opened(PAYMENT, NOON, probe_in=60), NOON)
    assert list(stats.figures(NOON).circuits) == [PAYMENT]
    assert "changedAt" in caplog.text and "future" in caplog.text
