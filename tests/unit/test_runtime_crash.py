"""A worker thread that fails ends its process: one JSON line, non-zero exit, no ready file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cbec.runtime import EXIT_CRASHED

SCENARIOS = Path(__file__).with_name("runtime_scenarios.py")


def start(scenario: str, ready: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCENARIOS), scenario, str(ready)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, list[dict[str, str]]]:
    out, err = proc.communicate(timeout=timeout)
    lines = [json.loads(line) for line in err.splitlines()]  # every stderr line is JSON: no raw traceback
    return proc.returncode, out, lines


def errors(lines: list[dict[str, str]]) -> list[dict[str, str]]:
    return [line for line in lines if line["level"] in {"ERROR", "CRITICAL"}]


def test_a_failed_commit_ends_the_process_with_one_masked_json_line(tmp_path: Path) -> None:
    ready = tmp_path / "svc.ready"
    code, _, lines = finish(start("commit-fails", ready))
    assert code == EXIT_CRASHED
    [error] = errors(lines)
    assert error["crashed_thread"] == "svc-consumer-cbec-test"
    assert error["error_type"] == "CommitFailedError"
    assert "svc-consumer-cbec-test" in error["message"] and "CommitFailedError" in error["message"]
    assert "Traceback" in error["exception"] and "run_forever" in error["exception"]
    assert "11010119900307803X" not in json.dumps(lines)
    assert not ready.exists()


def test_a_poller_failing_round_after_round_is_retried_then_ends_the_process(tmp_path: Path) -> None:
    ready = tmp_path / "svc.ready"
    code, _, lines = finish(start("poller-fails", ready))
    assert code == EXIT_CRASHED
    retries = [line for line in lines if line["level"] == "WARNING" and "ConnectionError" in line["message"]]
    assert [("retry 1/2" in r["message"], "retry 2/2" in r["message"]) for r in retries] == [(True, False),
                                                                                            (False, True)]
    [error] = errors(lines)
    assert error["crashed_thread"] == "svc-poller-0" and error["error_type"] == "ConnectionError"
    assert not ready.exists()


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigterm_stops_a_ready_process_cleanly_and_removes_its_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "svc.ready"
    proc = start("idle", ready)
    wait_for(ready.exists)
    proc.send_signal(signal.SIGTERM)
    code, out, lines = finish(proc)
    assert code == 0 and not ready.exists()
    assert out == "cbec svc: ready\n"
    assert errors(lines) == []


def test_a_stale_ready_file_is_gone_before_the_restarted_process_is_ready(tmp_path: Path) -> None:
    ready = tmp_path / "svc.ready"
    ready.write_text("left by the previous process")
    proc = start("never-joins", ready)
    try:
        wait_for(lambda: not ready.exists())
        time.sleep(1.0)  # the consumer never joins: the process must not claim readiness
        assert not ready.exists() and proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
    code, out, _ = finish(proc)
    assert code == 0 and out == "" and not ready.exists()


def test_an_uncaught_start_up_error_is_one_masked_json_line(tmp_path: Path) -> None:
    program = ("from cbec.logging_setup import configure_logging\n"
               "configure_logging('INFO')\n"
               "raise ValueError('no broker for buyerIdNumber=11010119900307803X')\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    [line] = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["level"] == "CRITICAL" and line["error_type"] == "ValueError"
    assert line["crashed_thread"] == "MainThread" and "Traceback" in line["exception"]
    assert "11010119900307803X" not in done.stderr


def test_cbec_run_reports_an_invalid_setting_as_one_json_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CBEC_TOPIC_PARTITIONS": "many", "CBEC_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "run", "receipts"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode != 0
    lines = [json.loads(text) for text in done.stderr.splitlines()]
    [error] = errors(lines)
    assert "CBEC_TOPIC_PARTITIONS" in error["exception"] or "topic_partitions" in error["exception"]


def test_an_exception_python_cannot_raise_is_logged_as_json_too() -> None:
    program = ("from cbec.logging_setup import configure_logging\n"
               "configure_logging('INFO')\n"
               "class Leaky:\n"
               "    def __del__(self):\n"
               "        raise RuntimeError('lost buyer 11010119900307803X')\n"
               "Leaky()\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    [line] = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["level"] == "WARNING" and "Leaky.__del__" in line["message"] and "RuntimeError" in line["exception"]
    assert "11010119900307803X" not in done.stderr
