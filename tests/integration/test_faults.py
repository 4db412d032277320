"""The platform under faults, on real Kafka and Postgres with fsync on (servers of each test's own, so
they can be restarted): every clearance still reaches release, every document reaches customs (the
simulator) exactly once as a declaration (appType 1) and in prerequisite order, and no alert is raised.

CI runs each scenario with CBEC_FAULT_CLEARANCES clearances (default 80). The full size is one command
per scenario, e.g. ``.venv/bin/python benchmarks/clearance.py --faults kill --clearances 200``
(also ``servers`` and ``lossy``), or ``CBEC_FAULT_CLEARANCES=200 bash scripts/test.sh
tests/integration/test_faults.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cbec_testkit.load.arrivals import read_arrivals
from cbec_testkit.load.faults import KILLS, scenario_config
from cbec_testkit.load.run import LoadRun, Report, RunConfig
from cbec_testkit.load.servers import ServerError
from conftest import integration_required

pytestmark = pytest.mark.integration

CLEARANCES = int(os.environ.get("CBEC_FAULT_CLEARANCES", "80"))
# Not pytest's tmp_path: other pytest sessions of the same user prune its numbered folders, and the
# servers' config and data must outlive a restart. CBEC_KEEP_TEST_STACK=1 keeps the logs.
RUNS = Path(__file__).resolve().parents[2] / ".stack" / f"test-faults-{os.getpid()}"


def _run(scenario: str) -> Iterator[tuple[LoadRun, Report]]:
    # INFO logs: a failure's explanation follows the missing clearances through every service's log.
    config, fault = scenario_config(scenario, RunConfig(clearances=CLEARANCES, stall_seconds=240,
                                                        env={"CBEC_LOG_LEVEL": "INFO"}))
    folder = RUNS / scenario
    shutil.rmtree(folder, ignore_errors=True)
    run = LoadRun(config, folder, say=lambda line: print(line, flush=True))
    try:
        run.start()
    except BaseException as error:
        run.close()
        if not isinstance(error, (ServerError, OSError)):
            raise
        message = f"cannot start the servers of the {scenario} scenario: {error}"
        if integration_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        report = run.execute(fault)
        print("\n".join(report.lines()))
        yield run, report
    finally:
        run.close()
        if os.environ.get("CBEC_KEEP_TEST_STACK") != "1":
            shutil.rmtree(folder, ignore_errors=True)


def _explain(run: LoadRun, report: Report) -> str:
    assert run.processes is not None
    errors = [line for line in run.processes.grep('"level": "ERROR"')][-30:]
    followed: list[str] = []
    for key in report.missing[:3]:  # every log line naming a missing clearance's order
        order_no = key.rsplit(":", 1)[-1]
        followed += [f"log lines naming {order_no}:", *run.processes.grep(order_no)[-40:]]
    staging = run.outbox / ".cbec-staging"
    staged = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
    return "\n".join([*report.lines(), "faults:", *run.events, "error log lines:", *errors, *followed,
                      "customs link lines:", *run.processes.grep("customs link")[-30:],
                      f"still staged ({len(staged)}):", *staged[:20],
                      *(run.processes.tail(name, 1500) for name in run.processes.replicas)])


def _assert_clean(run: LoadRun, report: Report) -> None:
    assert not report.missing, f"clearances not released:\n{_explain(run, report)}"
    assert not report.alerts, f"alerts raised:\n{_explain(run, report)}"
    assert not report.arrival_problems and not report.unreadable_files, \
        f"customs did not get each document once, in order:\n{_explain(run, report)}"
    assert report.released == report.published == CLEARANCES


@pytest.fixture
def killed() -> Iterator[tuple[LoadRun, Report]]:
    yield from _run("kill")


@pytest.fixture
def restarted() -> Iterator[tuple[LoadRun, Report]]:
    yield from _run("servers")


@pytest.fixture
def lossy() -> Iterator[tuple[LoadRun, Report]]:
    yield from _run("lossy")


@pytest.fixture
def duplicated() -> Iterator[tuple[LoadRun, Report]]:
    yield from _run("duplicates")


def test_every_service_killed_mid_load_loses_and_duplicates_nothing(killed: tuple[LoadRun, Report]) -> None:
    run, report = killed
    _assert_clean(run, report)
    killed_names = [line.split("kill -9 ", 1)[1].split()[0] for line in run.events if "kill -9 " in line]
    assert sorted(killed_names) == sorted(KILLS)
    assert {name for name in killed_names if killed_names.count(name) >= 2} >= {"saga", "receipts", "signer"}


def test_a_broker_and_a_database_restart_mid_load_lose_and_duplicate_nothing(
        restarted: tuple[LoadRun, Report]) -> None:
    run, report = restarted
    _assert_clean(run, report)
    assert any("kafka is back" in line for line in run.events)
    assert any("postgres is back" in line for line in run.events)


def test_lost_receipts_are_recovered_by_deadlines_and_duplicates_change_nothing(
        lossy: tuple[LoadRun, Report]) -> None:
    run, report = lossy
    _assert_clean(run, report)
    arrivals, _ = read_arrivals(run.journal, run.outbox)
    resent = len(arrivals) - 4 * CLEARANCES
    assert resent > 0, "no document was resent: the lost receipts were not exercised"
    assert not report.rejections, f"customs rejected documents:\n{_explain(run, report)}"


def test_duplicated_receipts_change_nothing(duplicated: tuple[LoadRun, Report]) -> None:
    run, report = duplicated
    _assert_clean(run, report)
    assert not report.rejections, f"customs rejected documents:\n{_explain(run, report)}"
