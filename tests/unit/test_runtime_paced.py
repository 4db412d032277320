"""A paced poller sleeps as long as it says it may, and wakes at once when told to."""

from __future__ import annotations

import threading
import time

from cbec.runtime import Paced, ServiceProcess


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
