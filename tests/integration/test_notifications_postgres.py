"""The notification service on Postgres: two replicas (and two intake threads) on one schema number a
tenant's notifications without gaps or duplicates, and push each one once, in order, through the breaker."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cbec.clock import FakeClock
from cbec.contracts.status import STATUS_CHANGED, StatusMessage
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from saga_service.notification_store import NotificationStore
from saga_service.notifications import Notifier

pytestmark = pytest.mark.integration

TENANT = "3105960001"
TENANTS = TenantRegistry.from_json([{**t, "callbackUrl": "https://platform.example/hooks"}
                                    if t["customsCode"] == TENANT else t for t in DEMO_TENANTS])


def status(number: int) -> StatusMessage:
    return StatusMessage(type=STATUS_CHANGED, message_id=f"m{number}", tenant=TENANT,
                         clearance_key=f"{TENANT}:W{number}", doc_type="CEB311",
                         business_key=[TENANT, f"W{number}"], status="customs accepted (120)")


class Endpoint:
    def __init__(self) -> None:
        self.down = True
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.calls.append(headers["X-Cbec-Message-Id"])
        return 503 if self.down else 204


def test_two_replicas_number_and_push_a_blocked_tenants_notifications_once_in_order(
        database_url: str, pg_schema: str) -> None:
    clock, endpoint = FakeClock(datetime(2026, 1, 1, tzinfo=UTC)), Endpoint()
    stores = [EventStore.open(database_url, schema=pg_schema, name="saga") for _ in range(2)]
    replicas = [Notifier(NotificationStore.beside(s), TENANTS, lambda code: b"secret", post=endpoint, clock=clock,
                         backoff=timedelta(seconds=2)) for s in stores]
    replicas[0].add(status(0))
    replicas[0].poll()
    assert endpoint.calls == ["m0"] and replicas[1].count(TENANT)[0].blocked

    def intake(replica: Notifier, numbers: range) -> None:
        for number in numbers:
            replica.add(status(number))
            replica.add(status(number))  # a redelivery

    threads = [threading.Thread(target=intake, args=(r, range(1 + i, 41, 2))) for i, r in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = replicas[1].page(TENANT, 0, 100)
    assert [n.seq for n in stored] == list(range(1, 42)), "numbered without gaps or duplicates"

    endpoint.down = False
    clock.advance(seconds=2)
    pollers = [threading.Thread(target=r.poll) for r in replicas]
    for thread in pollers:
        thread.start()
    for thread in pollers:
        thread.join()
    for replica in replicas:
        replica.poll()
    assert endpoint.calls[1:] == [n.event_id for n in stored], "each pushed once, in order, by one replica"
    assert replicas[0].count(TENANT)[0].queued == 0 and not replicas[0].count(TENANT)[0].blocked
    for replica, store in zip(replicas, stores, strict=True):
        replica.store.close()
        store.close()
