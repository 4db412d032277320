"""How `cbec up` / `cbec down` treat service processes, without any server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cbec_cli.stack_runtime import (
    ServiceProcess,
    is_running,
    parse_env_lines,
    recorded_services,
    service_environment,
    start_service,
    stop_service,
    wait_until_up,
    write_stack_env,
)

SIGNALS_READY = "import os, pathlib, time; pathlib.Path(os.environ['CBEC_READY_FILE']).touch(); time.sleep(60)"
NEVER_SIGNALS = "import time; time.sleep(60)"
FAILS_AT_START = "import sys; print('unknown service: bogus'); sys.exit(3)"


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def start(name: str, code: str, stack_dir: Path) -> ServiceProcess:
    env = service_environment(os.environ, {}, stack_dir, name)
    return start_service(name, python(code), env, stack_dir)


def test_script_output_yields_only_upper_case_assignments() -> None:
    text = "[kafka] starting\nKAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092\nlower=x\nDATABASE_URL=postgresql://a@b:1/c?x=y\n"
    assert parse_env_lines(text) == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "DATABASE_URL": "postgresql://a@b:1/c?x=y",
    }


def test_a_service_gets_server_settings_under_both_names_and_the_stack_paths(tmp_path: Path) -> None:
    servers = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "DATABASE_URL": "postgresql://p@127.0.0.1:2/cbec"}
    env = service_environment({"PATH": "/bin"}, servers, tmp_path, "signer")
    assert env["CBEC_KAFKA_BOOTSTRAP_SERVERS"] == env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1"
    assert env["CBEC_DATABASE_URL"] == env["DATABASE_URL"] == "postgresql://p@127.0.0.1:2/cbec"
    assert env["CBEC_DXP_OUTBOX"] == str(tmp_path / "dxp" / "outbox")
    assert env["CBEC_DXP_INBOX"] == str(tmp_path / "dxp" / "inbox")
    assert env["CBEC_READY_FILE"] == str(tmp_path / "services" / "signer.ready")
    assert env["PATH"] == "/bin"


def test_a_service_that_signals_readiness_is_ready_and_down_stops_it(tmp_path: Path) -> None:
    service = start("order", SIGNALS_READY, tmp_path)
    try:
        [outcome] = wait_until_up([service], wait=20)
        assert outcome.state == "ready"
        assert recorded_services(tmp_path) == [service]
    finally:
        assert stop_service(service, timeout=10)
    assert not is_running(service)
    assert recorded_services(tmp_path) == []


def test_a_service_that_exits_at_start_is_reported_failed_with_its_log(tmp_path: Path) -> None:
    service = start("bogus", FAILS_AT_START, tmp_path)
    [outcome] = wait_until_up([service], wait=20)
    assert outcome.state == "failed"
    assert "code 3" in outcome.detail
    assert "unknown service: bogus" in outcome.detail


def test_a_live_service_without_a_signal_counts_as_running_when_the_wait_ends(tmp_path: Path) -> None:
    service = start("payment", NEVER_SIGNALS, tmp_path)
    try:
        [outcome] = wait_until_up([service], wait=0.5)
        assert outcome.state == "running"
    finally:
        stop_service(service, timeout=10)


def test_down_leaves_alone_a_process_that_reuses_a_recorded_pid(tmp_path: Path) -> None:
    stranger = subprocess.Popen(python(NEVER_SIGNALS))
    try:
        record = ServiceProcess(
            "order", stranger.pid, ("cbec", "run", "order"), tmp_path / "order.log", tmp_path / "order.ready"
        )
        assert not stop_service(record, timeout=1)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_stack_env_is_written_as_sorted_key_value_lines(tmp_path: Path) -> None:
    path = write_stack_env(tmp_path, {"B": "2", "A": "x=y"})
    assert path.read_text() == "A=x=y\nB=2\n"
    assert parse_env_lines(path.read_text()) == {"A": "x=y", "B": "2"}


def test_cbec_up_reports_a_service_that_cannot_start_and_exits_non_zero(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    cli = [sys.executable, "-m", "cbec_cli.main"]
    up = subprocess.run(
        [
            *cli,
            "up",
            "--no-servers",
            "--no-hsm",
            "--services",
            "no-such-service",
            "--dir",
            str(stack),
            "--wait",
            "15",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    subprocess.run([*cli, "down", "--dir", str(stack)], capture_output=True, timeout=60, check=True)
    assert up.returncode == 1
    assert "failed to start: no-such-service" in up.stderr
    assert (stack / "services" / "no-such-service.log").exists()


def test_a_service_that_prints_its_ready_line_is_ready(tmp_path: Path) -> None:
    service = start("simulator", "import time; print('cbec simulator: ready', flush=True); time.sleep(60)", tmp_path)
    try:
        [outcome] = wait_until_up([service], wait=20)
        assert outcome.state == "ready"
    finally:
        stop_service(service, timeout=10)

