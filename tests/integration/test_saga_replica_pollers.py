"""Two saga replicas on one database: one runs the deadline ticker, the webhook retries and the pruning
(the holder of the ``saga-pollers`` lease); the other stands by and takes over when the holder goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cbec.runtime import Paced
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec_testkit.tenants import demo_registry
from saga_service import bootstrap

pytestmark = pytest.mark.integration


def eventually(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Replica:
    def __init__(self, database_url: str, schema: str) -> None:
        self.store = EventStore.open(database_url, schema=schema, name="saga")
        self.service = bootstrap.build(Settings.from_environ({}), demo_registry(), self.store)
        self.ticks = 0
        ticker = self.service.pollers[0]
        assert isinstance(ticker, Paced)
        index = self.service.app.index  # each tick round reads the deadline index first
        real = index.first

        def counted(limit: int) -> list[Any]:
            self.ticks += 1
            return list(real(limit))

        index.first = counted  # type: ignore[method-assign]
        self.ticker = ticker
        self.lease = self.service.on_close[0].__self__  # type: ignore[attr-defined]

    def rounds(self, n: int) -> None:
        for _ in range(n):
            self.ticker()

    def close(self) -> None:
        for close in self.service.on_close:
            close()
        self.store.close()


def test_one_replica_runs_the_singleton_pollers_and_the_other_takes_over(database_url: str, pg_schema: str) -> None:
    replicas = [Replica(database_url, pg_schema) for _ in range(2)]
    try:
        eventually(lambda: sum(r.lease.held() for r in replicas) == 1)
        holder, standby = sorted(replicas, key=lambda r: not r.lease.held())
        for replica in replicas:
            replica.rounds(5)
        assert (holder.ticks, standby.ticks) == (5, 0)
        assert standby.ticker.idle() == 5.0  # the standby looks again in seconds, not at the deadline pace
        holder.close()
        eventually(standby.lease.held)
        standby.rounds(3)
        assert standby.ticks == 3
    finally:
        for replica in replicas:
            replica.close()
