"""A paced poller sleeps as long as it says it may, and wakes at once when told to."""

from __future__ import annotations

import threading
import time

from cbec.runtime import Paced, ServiceProcess, leased


def test_an_idle_paced_poller_sleeps_its_own_time_and_a_wakeup_ends_the_sleep() -> None:
    rounds: list[float] = []
    wakeup = threading.Event()

    def step() -> int:
        rounds.append(time.monotonic())
        return 0

    process = ServiceProcess("paced", pollers=[Paced(step, idle=lambda: 30.0, wakeup=wakeup)], tracing=False,
                             poll_interval=0.01)
    thread = threading.Thread(target=process.serve, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert len(rounds) == 1, "an idle round waits idle() seconds, not poll_interval"
        wakeup.set()
        deadline = time.monotonic() + 5
        while len(rounds) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rounds) == 2, "the wake-up starts the next round at once"
    finally:
        process.stop.set()
        thread.join(10)
    assert not thread.is_alive()


class FakeLease:
    """A lease the test hands over by hand."""

    name = "tick"

    def __init__(self) -> None:
        self.holding = False
        self.watchers: list[threading.Event] = []

    def held(self) -> bool:
        return self.holding

    @property
    def generation(self) -> int:
        return 1 if self.holding else 0

    @property
    def foreign_commits(self) -> int:
        return 0

    def watch(self, wakeup: threading.Event) -> None:
        self.watchers.append(wakeup)

    def take(self) -> None:
        self.holding = True
        for wakeup in self.watchers:
            wakeup.set()

    def close(self) -> None:
        pass


def test_a_leased_poller_runs_only_on_the_replica_that_holds_the_lease_and_starts_when_it_takes_it() -> None:
    rounds: list[float] = []
    lease = FakeLease()

    def tick() -> int:
        rounds.append(time.monotonic())
        return 0

    process = ServiceProcess("saga", pollers=[leased(lease, Paced(tick, idle=lambda: 30.0), standby=30.0)],
                             tracing=False)
    thread = threading.Thread(target=process.serve, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        assert rounds == [], "a standby does not run the loop"
        lease.take()
        deadline = time.monotonic() + 5
        while not rounds and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rounds) == 1, "taking the lease wakes the loop at once"
    finally:
        process.stop.set()
        thread.join(10)
    assert not thread.is_alive()
