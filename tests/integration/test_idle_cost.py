"""An idle service process costs next to nothing: it waits on its consumers' polls, on its store's
commits and on Postgres notifications, not in busy loops (issue #12: an idle stack ≤ 2 % of one core)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from service_processes import ServiceProcesses, fast_forward, process_env

pytestmark = pytest.mark.integration

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE = 3.0  # after readiness: first group rebalance, first relay and projection rounds
WINDOW = 15.0
BUDGET = 0.01  # of one core per process: catches any busy loop (50 ms polling cost 4–6 %); measured 0.2–0.6 %,
# the issue aims at 0.3 % (seven services ≤ 2 %), not reached: see benchmarks/README.md


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def test_an_idle_declaration_service_uses_almost_no_cpu(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    fast_forward(kafka_bootstrap, ("cbec-order",))
    services = ServiceProcesses(process_env(kafka_bootstrap, database_url, tmp_path), tmp_path / "logs")
    try:
        services.start("order")
        pid = services.procs["order"].pid
        time.sleep(SETTLE)
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(WINDOW)
        used, elapsed = cpu_seconds(pid) - before, time.monotonic() - started
        share = used / elapsed
        print(f"idle order process: {used:.3f} CPU-s in {elapsed:.1f} s = {share:.2%} of one core")
        assert services.procs["order"].poll() is None, services.tails()
        assert share <= BUDGET, f"idle order process used {share:.2%} of a core (budget {BUDGET:.1%})"
    finally:
        codes = services.stop()
    assert codes == {"order": 0}, services.tails()
