"""Webhook retries come from the durable schedule: a restart reads the open deliveries only, and the
poller sleeps until the next attempt unless a new delivery wakes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cbec.clock import FakeClock
from cbec.contracts.status import STATUS_CHANGED, StatusMessage
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from saga_service.webhooks import WebhookNotifier
from test_saga_deadline_index import CountingStore

URL = "https://platform.example/cbec/status"
START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
TENANTS = TenantRegistry.from_json([{**t, "callbackUrl": URL} if t["customsCode"] == "3105960001" else t
                                    for t in DEMO_TENANTS])


class Receiver:
    """A tenant endpoint that answers 503 to the messages it is told to refuse."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.calls: list[str] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        message_id = headers["X-Cbec-Message-Id"]
        self.calls.append(message_id)
        return 503 if message_id in self.refused else 204


def status(number: int) -> StatusMessage:
    return StatusMessage(type=STATUS_CHANGED, message_id=f"m{number}", tenant="3105960001",
                         clearance_key=f"3105960001:W{number}", doc_type="CEB311",
                         business_key=["3105960001", f"W{number}"], status="customs accepted (120)")


def notifier(store: CountingStore, receiver: Receiver, clock: FakeClock) -> WebhookNotifier:
    return WebhookNotifier(store, TENANTS, lambda code: b"secret", post=receiver, clock=clock,
                           backoff=timedelta(seconds=2), max_idle=30)


def test_a_restart_reads_the_open_deliveries_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    receiver = Receiver(refused={"m7", "m8"})
    hooks = notifier(CountingStore.open(url, schema="saga", name="saga"), receiver, clock)
    for number in range(200):
        hooks.schedule(status(number))
    hooks.poll()
    assert sorted(hooks.pending) == ["m7", "m8"] and len(receiver.calls) == 200
    store = CountingStore.open(url, schema="saga", name="saga")
    restarted = notifier(store, receiver, clock)
    assert store.decoded == 0 and restarted.index.rows_read <= 2, "200 deliveries made, at most 2 rows read"
    receiver.refused.clear()
    clock.advance(seconds=2)  # the backoff after the first attempt, kept across the restart
    assert restarted.poll() == 2
    assert receiver.calls[-2:] == ["m7", "m8"] and restarted.pending == {}
    assert notifier(CountingStore.open(url, schema="saga", name="saga"), receiver, clock).pending == {}


def test_the_poller_sleeps_until_the_next_attempt_and_a_new_delivery_wakes_it(tmp_path: Path) -> None:
    clock = FakeClock(START)
    hooks = notifier(CountingStore.open("sqlite:///:memory:", schema="saga", name="saga"),
                     Receiver(refused={"m1"}), clock)
    assert hooks.pacer.step == hooks.poll and hooks.pacer.wakeup is hooks.wakeup
    assert hooks.pacer.idle() == 30, "nothing to deliver: the safety-net pause"
    hooks.schedule(status(1))
    assert hooks.wakeup.is_set() and hooks.pacer.idle() == 0
    hooks.wakeup.clear()
    assert hooks.poll() == 1  # refused: the next attempt in 2 s
    assert hooks.pacer.idle() == 2 and not hooks.wakeup.is_set()
    clock.advance(seconds=1)
    assert hooks.pacer.idle() == 1


def test_two_notifiers_on_one_schema_post_each_delivery_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    receiver = Receiver(refused=set())
    one, two = (notifier(CountingStore.open(url, schema="saga", name="saga"), receiver, clock) for _ in range(2))
    for number in range(20):
        one.schedule(status(number))
    assert one.poll() + two.poll() == 20
    assert sorted(receiver.calls) == sorted(f"m{n}" for n in range(20))


def test_a_delivery_queued_by_another_process_is_found_by_the_running_poller(tmp_path: Path) -> None:
    """E.g. ``python -m saga_service.replay``: its rows reach the running saga within ``max_idle``."""
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    receiver = Receiver(refused=set())
    running = notifier(CountingStore.open(url, schema="saga", name="saga"), receiver, clock)
    assert running.poll() == 0
    notifier(CountingStore.open(url, schema="saga", name="saga"), receiver, clock).replay([status(1)], tag="r1")
    assert running.pacer.idle() == 30 and running.poll() == 1
    assert receiver.calls == ["m1"]
