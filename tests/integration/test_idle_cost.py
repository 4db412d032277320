"""An idle stack costs next to nothing: every service process waits on its consumers' polls (the broker
holds their empty fetches), on its store's commits and on Postgres notifications, not in busy loops,
and the console's embedded sandbox steps only when there is work (issue #12: an idle stack ≤ 2 % of one
core, the console included, as `cbec up` starts it). CPU seconds from /proc, so other jobs on the box do
not count; benchmarks/idle.py measures the same per thread (benchmarks/README.md)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cbec_testkit.load.identities import provision_signer_keys
from service_processes import ServiceProcesses, fast_forward, process_env

pytestmark = pytest.mark.integration

SERVICES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga")
GROUPS = ("cbec-order", "cbec-payment", "cbec-logistics", "cbec-inventory", "cbec-signer", "cbec-receipts",
          "cbec-saga", "cbec-webhooks")
SETTLE = 20.0  # after readiness: group joins, first relay and projection rounds, first lag samples
WINDOW = 30.0
# Measured 2026-12-08 (benchmarks/README.md, idle stack, by run time on a quiet box): the seven services
# 1.44 % of one core in total, each 0.16–0.30 %; before the idle work 5.4–5.6 % (each 0.47–1.20 %);
# this test 1.51 % at load 1.4 (1.74 % with 10 s of settling). 50 ms polling cost 4–6 % per process. The
# console: 3.1–3.4 % while its sandbox stepped every 0.1 s, 0.18–0.21 % since it steps on demand; this test
# with the console 1.30 % at load 8.7. The per-process budget leaves 2× room for CI noise; the total is the
# issue's target.
TOTAL_BUDGET = 0.02  # of one core, the seven and the console together: the target
PROCESS_BUDGET = 0.006  # of one core, any one of them: catches a busy loop in a single service


def cpu_seconds(pid: int) -> float:
    """Run time of a process's live threads so far (``/proc/<pid>/task/*/schedstat``, nanoseconds on the
    CPU). Not utime + stime: those are timer-tick samples, which charge a thread that wakes on a timer
    3-4 times too much on a quiet box (benchmarks/README.md, idle stack)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_console(env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    """`cbec run console` as `cbec up` starts it in development (its embedded sandbox included), on a port of
    its own; its users in memory (no CBEC_CONSOLE_DATABASE_URL)."""
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "console.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", "console"],
                            env={**env, "CBEC_HTTP_PORT": str(free_port())}, stdout=log, stderr=subprocess.STDOUT)


def test_an_idle_stack_of_every_service_uses_almost_no_cpu(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    fast_forward(kafka_bootstrap, GROUPS)
    env = process_env(kafka_bootstrap, database_url, tmp_path, **provision_signer_keys(tmp_path / "keys"))
    services = ServiceProcesses(env, tmp_path / "logs")
    try:
        services.procs["console"] = start_console(env, tmp_path / "logs")  # starts while the services do
        services.start(*SERVICES)
        services.wait_ready("console")
        pids = {name: services.procs[name].pid for name in (*SERVICES, "console")}
        time.sleep(SETTLE)
        before, started = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.monotonic()
        time.sleep(WINDOW)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        elapsed = time.monotonic() - started
        share = {name: seconds / elapsed for name, seconds in used.items()}
        total = sum(share.values())
        print(f"idle stack over {elapsed:.1f} s (load average {os.getloadavg()[0]:.2f}): {total:.2%} of one core; "
              + ", ".join(f"{name} {value:.2%}" for name, value in share.items()))
        assert all(proc.poll() is None for proc in services.procs.values()), services.tails()
        busy = {name: f"{value:.2%}" for name, value in share.items() if value > PROCESS_BUDGET}
        assert not busy, f"idle processes above {PROCESS_BUDGET:.1%} of a core: {busy}"
        assert total <= TOTAL_BUDGET, f"the idle stack used {total:.2%} of a core (budget {TOTAL_BUDGET:.0%})"
    finally:
        codes = services.stop()
        fast_forward(kafka_bootstrap, GROUPS)  # nothing of this test reaches a later one
    # uvicorn re-raises the SIGTERM it stopped on once its server is down
    assert codes == {**dict.fromkeys(SERVICES, 0), "console": -15}, services.tails()
