"""The fault scenarios of ``tests/integration/test_faults.py``, also runnable at full size from
``benchmarks/clearance.py --faults <name>``.

- ``kill``: every service is killed with SIGKILL at least once (the saga, the customs link and the
  signer twice) while clearances flow, and started again;
- ``servers``: the Kafka broker and then Postgres are restarted mid-load (same port, same data);
  a service that exits meanwhile is restarted, as an orchestrator would;
- ``lossy``: customs loses 10 % of its receipts and duplicates 5 %; short receipt deadlines make the
  saga resend what went unanswered;
- ``duplicates``: customs duplicates 5 % of its receipts and loses none: nothing may change (each
  document still reaches customs exactly once).

Each scenario offers its clearances at a steady rate spread over the fault schedule, so the faults
land while documents are in flight however fast the platform has become. Postgres runs with fsync on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from cbec_testkit.load.processes import SERVICES
from cbec_testkit.load.run import LoadRun, RunConfig

# saga, customs link and signer twice; every other service once
KILLS = ("saga", "receipts", "signer", "order", "payment", "saga", "logistics", "receipts", "inventory", "signer")
KILL_GAP = 5.0  # seconds between two kills
SERVER_SPAN = 60.0  # seconds the servers scenario offers its load over

Fault = Callable[[LoadRun], None]


def _sleep_until(start: float, offset: float) -> None:
    delay = start + offset - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def kill_services(run: LoadRun) -> None:
    """kill -9 the services of ``KILLS`` on a timer, each started again at once.

    A service killed a second time is first waited for until its previous restart is ready, so the
    second kill hits a working process; kills of different services overlap (a restarted consumer
    may wait out its dead predecessor's session before it gets partitions).
    """
    assert run.processes is not None
    start = time.monotonic()
    for i, name in enumerate(KILLS):
        _sleep_until(start, 3.0 + i * KILL_GAP)  # the first documents get in flight before the first kill
        run.processes.wait_ready([name])
        run.note(f"kill -9 {name} (released so far: {run.released()})")
        run.processes.kill(name)
        run.processes.spawn(name)
    run.processes.wait_ready(list(run.processes.replicas))
    run.note(f"every service ready again (released so far: {run.released()})")
    missing = set(SERVICES) - set(KILLS)
    assert not missing, missing


def restart_servers(run: LoadRun) -> None:
    """Restart the broker a third into the load, Postgres two thirds in."""
    assert run.processes is not None
    start = time.monotonic()
    run.processes.supervise()
    for offset, server in ((SERVER_SPAN / 3, "kafka"), (2 * SERVER_SPAN / 3, "postgres")):
        _sleep_until(start, offset)
        run.note(f"restarting {server} (released so far: {run.released()})")
        run.servers.restart(server)
        run.note(f"{server} is back")


SCENARIOS: dict[str, tuple[Fault | None, dict[str, str]]] = {
    "kill": (kill_services, {}),
    "servers": (restart_servers, {}),
    "lossy": (None, {"CBEC_SIMULATOR_LOST_RATE": "0.1", "CBEC_SIMULATOR_DUPLICATE_RATE": "0.05",
                     "CBEC_SAGA_RECEIPT_TIMEOUT": "15", "CBEC_SAGA_MAX_RESENDS": "6"}),
    "duplicates": (None, {"CBEC_SIMULATOR_DUPLICATE_RATE": "0.05"}),
}


def scenario_config(name: str, base: RunConfig) -> tuple[RunConfig, Fault | None]:
    """The run configuration of a scenario at ``base``'s size, and its fault injection."""
    fault, env = SCENARIOS[name]
    span = {"kill": 3.0 + len(KILLS) * KILL_GAP, "servers": SERVER_SPAN, "lossy": 60.0, "duplicates": 30.0}[name]
    config = dataclasses.replace(
        base, durable=True, use_given_servers=False, resends_allowed=name == "lossy",
        rate=base.rate or max(base.clearances / span, 1.0), env={**base.env, **env})
    return config, fault
