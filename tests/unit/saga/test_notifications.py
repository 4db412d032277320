"""A tenant whose callback is down for an hour gets every notification, in order, once it recovers:
the first failure blocks it, later ones queue, one probe is retried with backoff, and the probe's
success (or an operator) lets the queue drain. Pull works all along; old notifications are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cbec.bus.ports import Message
from cbec.clock import FakeClock
from cbec.contracts.status import STATUS_CHANGED, StatusMessage
from cbec.contracts.topics import STATUS, WEBHOOK_DEAD_LETTERS
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from saga_service import webhooks
from saga_service.notification_store import DELIVERED, FAILED, PULL_ONLY, PULLED, NotificationStore
from saga_service.notifications import CORRELATION_HEADER, NOTIFICATION_HEADER, Notifier

URL = "https://platform.example/cbec/status"
PUSHED, PULLING = "3105960001", "3105960002"  # the platform has a callback; the payment company pulls
START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
TENANTS = TenantRegistry.from_json([{**t, "callbackUrl": URL} if t["customsCode"] == PUSHED else t
                                    for t in DEMO_TENANTS])


class Endpoint:
    """A tenant's callback: answers ``down`` (e.g. 503) until it is brought up, or a code per message."""

    def __init__(self, down: int | None = None, answers: dict[str, int] | None = None) -> None:
        self.down = down
        self.answers = answers or {}
        self.calls: list[str] = []  # the event id of each POST
        self.headers: list[dict[str, str]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        event = headers["X-Cbec-Message-Id"]
        self.calls.append(event)
        self.headers.append(headers)
        assert webhooks.verify(b"secret", body, headers[webhooks.SIGNATURE_HEADER])
        if self.down is not None:
            return self.down
        return self.answers.get(event, 204)


def status(number: int, tenant: str = PUSHED) -> StatusMessage:
    return StatusMessage(type=STATUS_CHANGED, message_id=f"m{number}", tenant=tenant,
                         clearance_key=f"{tenant}:W{number}", doc_type="CEB311",
                         business_key=[tenant, f"W{number}"], status="customs accepted (120)")


def notifier(url: str, endpoint: Endpoint, clock: FakeClock, **kwargs: object) -> tuple[Notifier, EventStore]:
    events = EventStore.open(url, schema="saga", name="saga")
    notes = Notifier(NotificationStore.beside(events), TENANTS, lambda code: b"secret", post=endpoint, clock=clock,
                     backoff=timedelta(seconds=2), max_backoff=timedelta(minutes=5), events=events,
                     **kwargs)
    return notes, events


def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'saga.db'}"


def test_an_hour_down_then_every_notification_arrives_in_order_after_one_probe_at_a_time(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1))
    assert notes.poll() == 1 and endpoint.calls == ["m1"]
    [state] = notes.count(PUSHED)
    assert state.blocked and state.queued == 1 and state.last_error == "HTTP 503"
    for number in range(2, 6):  # arrive while the callback is down
        notes.add(status(number))
    probes = 0
    while clock.now() < START + timedelta(hours=1):
        clock.advance(seconds=1)
        probes += notes.poll()
    assert set(endpoint.calls) == {"m1"}, "while blocked, only the oldest is tried, as the probe"
    assert 10 <= probes <= 20, "backoff 2, 4, 8 … s, then every 5 minutes"
    [state] = notes.count(PUSHED)
    assert state.blocked and state.queued == 5 and state.probe_due is not None

    endpoint.down = None  # the tenant's endpoint recovers
    clock.advance(state.probe_due - clock.now())
    notes.poll()
    assert endpoint.calls[-5:] == ["m1", "m2", "m3", "m4", "m5"]
    [state] = notes.count(PUSHED)
    assert not state.blocked and state.queued == 0 and state.probes == 0
    assert [n.state for n in notes.page(PUSHED, 0, 10)] == [DELIVERED] * 5
    assert notes.poll() == 0


def test_pushes_carry_the_notification_and_correlation_ids(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint()
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(7))
    notes.poll()
    [item] = notes.page(PUSHED, 0, 10)
    assert endpoint.headers[0][NOTIFICATION_HEADER] == item.notification_id
    assert endpoint.headers[0][CORRELATION_HEADER] == item.correlation_id == f"{PUSHED}:W7/m7"
    assert item.business_key == (PUSHED, "W7") and item.event_id == "m7"


def test_a_4xx_parks_that_notification_and_the_next_goes_on(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(answers={"m2": 400})
    url = database(tmp_path)
    notes, events = notifier(url, endpoint, clock)
    for number in (1, 2, 3):
        notes.add(status(number))
    notes.poll()
    assert endpoint.calls == ["m1", "m2", "m3"]
    assert [n.state for n in notes.page(PUSHED, 0, 10)] == [DELIVERED, FAILED, DELIVERED]
    [state] = notes.count(PUSHED)
    assert not state.blocked and state.failed == 1
    [letter] = [m for e in events.notifications(1, 10) for m in webhooks.route(e)]
    assert letter[0] == WEBHOOK_DEAD_LETTERS and b'"HTTP 400"' in letter[2]


def test_408_and_429_block_like_a_5xx(tmp_path: Path) -> None:
    for code in (408, 429):
        clock, endpoint = FakeClock(START), Endpoint(answers={"m1": code})
        notes, _ = notifier(f"sqlite:///{tmp_path / f'{code}.db'}", endpoint, clock)
        notes.add(status(1))
        notes.add(status(2))
        notes.poll()
        assert endpoint.calls == ["m1"] and notes.count(PUSHED)[0].blocked, code


def test_a_transport_error_blocks_the_tenant(tmp_path: Path) -> None:
    def timeout(url: str, body: bytes, headers: dict[str, str]) -> int:
        raise TimeoutError("read timed out")

    clock = FakeClock(START)
    events = EventStore.open(database(tmp_path), schema="saga", name="saga")
    notes = Notifier(NotificationStore.beside(events), TENANTS, lambda code: b"secret", post=timeout, clock=clock)
    notes.add(status(1))
    notes.poll()
    [state] = notes.count(PUSHED)
    assert state.blocked and state.last_error == "TimeoutError"


def test_an_operator_unblocks_a_tenant_and_its_queue_drains_at_once(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1))
    notes.poll()
    notes.add(status(2))
    endpoint.down = None
    assert notes.poll() == 0, "the probe is not due yet"
    assert notes.unblock(PUSHED) and notes.wakeup.is_set()
    assert not notes.unblock(PUSHED), "unblocking twice changes nothing"
    notes.poll()
    assert endpoint.calls == ["m1", "m1", "m2"]
    assert notes.count(PUSHED)[0].queued == 0


def test_pull_works_while_blocked_and_an_acknowledged_notification_is_not_pushed(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    for number in (1, 2, 3):
        notes.add(status(number))
    notes.poll()
    assert [n.event_id for n in notes.page(PUSHED, 0, 10, pending=True)] == ["m1", "m2", "m3"]
    second = notes.page(PUSHED, 0, 10)[1]
    assert notes.acknowledge(PUSHED, second.notification_id)
    assert notes.acknowledge(PUSHED, second.notification_id), "acknowledging again is fine"
    assert [n.event_id for n in notes.page(PUSHED, 0, 10, pending=True)] == ["m1", "m3"]
    endpoint.down = None
    notes.unblock(PUSHED)
    notes.poll()
    assert endpoint.calls == ["m1", "m1", "m3"], "the tenant had m2 already"
    assert [n.state for n in notes.page(PUSHED, 0, 10)] == [DELIVERED, PULLED, DELIVERED]


def test_a_tenant_without_callback_gets_pull_only_and_is_never_posted_to(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint()
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1, PULLING))
    assert notes.poll() == 0 and endpoint.calls == []
    [item] = notes.page(PULLING, 0, 10)
    assert item.state == PULL_ONLY and notes.page(PUSHED, 0, 10) == []
    assert not notes.acknowledge(PUSHED, item.notification_id), "a tenant acknowledges its own only"
    assert notes.acknowledge(PULLING, item.notification_id)


def test_a_redelivered_status_message_is_one_notification_and_unknown_tenants_get_none(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint()
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    assert notes.add(status(1)) and not notes.add(status(1))
    assert not notes.add(status(2, "9999999999"))
    assert notes.replay([status(1)], tag="r1") == 1, "a replay is a new notification"
    notes.poll()
    assert endpoint.calls == ["m1", "m1"] and len(notes.page(PUSHED, 0, 10)) == 2


def test_a_polls_status_messages_are_stored_together_numbered_per_tenant_in_order(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint()
    notes, _ = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1))
    poll = [status(2), status(3, PULLING), status(1), status(4), status(3, PULLING), status(5, "9999999999"),
            status(6, PULLING)]
    messages = [Message(STATUS, 0, offset, s.clearance_key, s.to_json(), {}) for offset, s in enumerate(poll)]
    messages.insert(2, Message(STATUS, 0, 99, "k", b"{not json", {}))
    notes.handle_batch(messages)
    assert [(n.seq, n.event_id) for n in notes.page(PUSHED, 0, 10)] == [(1, "m1"), (2, "m2"), (3, "m4")]
    assert [(n.seq, n.event_id) for n in notes.page(PULLING, 0, 10)] == [(1, "m3"), (2, "m6")]
    notes.handle_batch(messages)  # the poll redelivered: nothing new
    assert len(notes.page(PUSHED, 0, 10)) == 3 and len(notes.page(PULLING, 0, 10)) == 2
    notes.poll()
    assert endpoint.calls == ["m1", "m2", "m4"]


def test_blocked_queues_and_their_backoff_survive_a_restart(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    url = database(tmp_path)
    notes, events = notifier(url, endpoint, clock)
    notes.add(status(1))
    notes.poll()
    notes.add(status(2))
    due = notes.count(PUSHED)[0].probe_due
    notes.store.close()
    events.close()

    restarted, _ = notifier(url, endpoint, clock)
    [state] = restarted.count(PUSHED)
    assert state.blocked and state.queued == 2 and state.probe_due == due
    assert restarted.poll() == 0, "the probe's backoff is kept across the restart"
    assert not restarted.add(status(2)), "a status message redelivered after the restart is no new notification"
    endpoint.down = None
    clock.advance(seconds=2)
    restarted.poll()
    assert endpoint.calls == ["m1", "m1", "m2"]


def test_notifications_older_than_the_retention_are_pruned_and_numbers_are_never_reused(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint()
    notes, _ = notifier(database(tmp_path), endpoint, clock, retention=timedelta(days=30), prune_batch=2)
    for number in (1, 2, 3):
        notes.add(status(number, PULLING))
    assert notes.prune() == 0
    assert notes.pruner.idle() == 3600.0, "the pruner sleeps between rounds"
    clock.advance(days=29)
    notes.add(status(4, PULLING))
    clock.advance(days=2)
    assert notes.prune() == 2 and notes.prune() == 1 and notes.prune() == 0, "a batch a round, then idle"
    [kept] = notes.page(PULLING, 0, 10)
    assert kept.event_id == "m4" and kept.seq == 4
    clock.advance(days=31)
    notes.prune()
    notes.add(status(5, PULLING))
    assert [n.seq for n in notes.page(PULLING, 4, 10)] == [5], "a cursor held by the tenant stays valid"


def test_the_pusher_sleeps_until_the_probe_and_a_new_notification_wakes_it(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, _ = notifier(database(tmp_path), endpoint, clock, max_idle=30.0)
    assert notes.pacer.idle() == 30.0
    notes.add(status(1))
    assert notes.wakeup.is_set() and notes.pacer.idle() == 0
    notes.wakeup.clear()
    notes.poll()
    assert notes.pacer.idle() == 2.0
    notes.add(status(2, PULLING))
    assert not notes.wakeup.is_set(), "a pull-only notification needs no push"


def test_metrics_count_per_tenant(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    clock, endpoint = FakeClock(START), Endpoint(answers={"m2": 410, "m3": 503})
    notes, _ = notifier(database(tmp_path), endpoint, clock, meter_provider=MeterProvider(metric_readers=[reader]))
    for number in (1, 2, 3, 4):
        notes.add(status(number))
    notes.add(status(5, PULLING))
    notes.poll()
    data = reader.get_metrics_data()
    assert data is not None
    points = {(m.name, dict(p.attributes or {})["tenant"]): p.value
              for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              for p in m.data.data_points if isinstance(p, NumberDataPoint)}
    assert points[("cbec.notifications.queued", PUSHED)] == 4
    assert points[("cbec.notifications.queued", PULLING)] == 1
    assert points[("cbec.notifications.delivered", PUSHED)] == 1
    assert points[("cbec.notifications.failed", PUSHED)] == 1
    assert points[("cbec.notifications.probes_failed", PUSHED)] == 1
    assert points[("cbec.notifications.backlog", PUSHED)] == 2
    assert points[("cbec.notifications.blocked", PUSHED)] == 1
    assert points[("cbec.notifications.blocked", PULLING)] == 0


def test_a_refused_address_is_parked_but_a_name_that_does_not_resolve_blocks(tmp_path: Path) -> None:
    import socket

    from cbec.net.callbacks import CallbackGuard

    answers: dict[str, list[str]] = {"platform.example": ["10.0.0.7"]}  # rebound to a private address

    def dns(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror("Name or service not known")
        return answers[host]

    def wire(url: str, body: bytes, headers: dict[str, str], server_name: str) -> int:
        return 204

    clock = FakeClock(START)
    events = EventStore.open(database(tmp_path), schema="saga", name="saga")
    notes = Notifier(NotificationStore.beside(events), TENANTS, lambda code: b"secret", clock=clock,
                     post=webhooks.guarded_post(CallbackGuard(production=True, resolver=dns), send=wire))
    notes.add(status(1))
    notes.poll()
    [state] = notes.count(PUSHED)
    assert state.failed == 1 and not state.blocked and state.queued == 0
    answers.clear()
    notes.add(status(2))
    notes.poll()
    [state] = notes.count(PUSHED)
    assert state.blocked and state.queued == 1 and "does not resolve" in state.last_error
    answers["platform.example"] = ["8.8.8.8"]
    clock.advance(seconds=2)
    notes.poll()
    assert notes.count(PUSHED)[0].queued == 0 and not notes.count(PUSHED)[0].blocked


def test_the_bootstrap_configures_retention_probes_pruning_and_operator_keys(tmp_path: Path) -> None:
    import json

    from cbec.auth.keys import issue_key
    from cbec.settings import Settings
    from saga_service import bootstrap

    key, record = issue_key("ops-bob")
    settings = Settings.from_environ({
        "CBEC_NOTIFICATION_RETENTION_DAYS": "7", "CBEC_NOTIFICATION_PROBE_MAX_BACKOFF": "60",
        "CBEC_NOTIFICATION_PRUNE_EVERY": "600", "CBEC_WEBHOOK_BACKOFF": "1",
        "CBEC_OPERATOR_API_KEYS": json.dumps([{"keyId": record.keyId, "tenant": record.tenant,
                                                "salt": record.salt, "hash": record.hash}])})
    events = EventStore.open(database(tmp_path), schema="saga", name="saga")
    notes = bootstrap.notifier_for(settings, TENANTS, events, clock=FakeClock(START), post=Endpoint(down=503))
    assert notes.retention == timedelta(days=7) and notes.pruner.idle() == 600
    assert [notes._backoff(n) for n in (1, 2, 3, 8)] == [1, 2, 4, 60]
    assert bootstrap.operator_keys(settings).authenticate(key) == "ops-bob"
    assert Settings.from_environ({}).notifications.retention_days == 30


def test_a_slow_callback_never_outlives_the_claim_on_its_queue(tmp_path: Path) -> None:
    clock = FakeClock(START)

    def slow(url: str, body: bytes, headers: dict[str, str]) -> int:
        clock.advance(seconds=20)  # each answer takes 20 s; the claim lasts a minute
        return 204

    events = EventStore.open(database(tmp_path), schema="saga", name="saga")
    notes = Notifier(NotificationStore.beside(events), TENANTS, lambda code: b"secret", post=slow, clock=clock,
                     claim_for=timedelta(minutes=1))
    for number in range(5):
        notes.add(status(number))
    assert notes.poll() == 2, "stops half way into its claim"
    assert notes.poll() == 2 and notes.poll() == 1
    assert [n.state for n in notes.page(PUSHED, 0, 10)] == [DELIVERED] * 5


def test_prometheus_shows_each_tenants_circuit_open_while_its_callback_is_down(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry
    from saga_service.bootstrap import notification_gauges

    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, _ = notifier(database(tmp_path), endpoint, clock)

    def scrape() -> dict[str, tuple[float | None, float | None]]:
        """(circuit open, queued) per tenant, as a fresh scrape reads them (the gauges cache 10 s)."""
        scraped = CollectorRegistry()
        for gauge in notification_gauges(notes):
            scraped.register(gauge)
        return {t: (scraped.get_sample_value("cbec_notification_circuit_open", {"tenant": t}),
                    scraped.get_sample_value("cbec_notifications_queued", {"tenant": t})) for t in (PUSHED, PULLING)}

    notes.add(status(1))
    notes.add(status(2))
    notes.add(status(3, PULLING))
    notes.poll()
    assert scrape() == {PUSHED: (1, 2), PULLING: (0, 0)}  # the pulling tenant has no callback to block
    endpoint.down = None
    clock.advance(minutes=10)
    notes.poll()  # the probe passes and the queue drains
    assert scrape() == {PUSHED: (0, 0), PULLING: (0, 0)}
