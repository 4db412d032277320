"""`cbec up` brings up its own Kafka and Postgres (no services) and `cbec down` takes them away."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cbec_cli.stack_runtime import parse_env_lines
from kafka.admin import KafkaAdminClient

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "cbec_cli.main"]
EXTERNAL_SETTINGS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SOFTHSM2_CONF")


def answers(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def test_up_starts_kafka_and_postgres_and_down_stops_them(tmp_path: Path) -> None:
    if shutil.which("java") is None and os.environ.get("CBEC_REQUIRE_INTEGRATION") != "1":
        pytest.skip("no java on this machine (CI requires it and fails instead)")
    stack = tmp_path / "stack"
    env = {key: value for key, value in os.environ.items() if key not in EXTERNAL_SETTINGS}
    up = subprocess.run(
        [*CLI, "up", "--services", "", "--no-hsm", "--dir", str(stack)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert up.returncode == 0, up.stderr
        settings = parse_env_lines((stack / "stack.env").read_text())
        printed = subprocess.run(
            [*CLI, "stack-env", "--dir", str(stack)], env=env, capture_output=True, text=True, check=True
        )
        assert parse_env_lines(printed.stdout) == settings

        admin = KafkaAdminClient(
            bootstrap_servers=settings["KAFKA_BOOTSTRAP_SERVERS"], request_timeout_ms=15000
        )
        try:
            assert isinstance(admin.list_topics(), list)
        finally:
            admin.close()
        with psycopg.connect(settings["CBEC_DATABASE_URL"]) as conn:
            assert conn.execute("select current_database()").fetchone() == ("cbec",)
        assert settings["CBEC_DXP_OUTBOX"] == str(stack.resolve() / "dxp" / "outbox")
        assert settings["CBEC_SIGNER_TENANTS_FILE"] == str(stack.resolve() / "signer" / "tenants.json")
        assert "software SM2 identities for 5 tenants (5 new, 0 reused)" in up.stderr
    finally:
        down = subprocess.run(
            [*CLI, "down", "--dir", str(stack)], env=env, capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stderr
    assert not answers(settings["KAFKA_BOOTSTRAP_SERVERS"])
    assert not answers(settings["DATABASE_URL"].rsplit("@", 1)[1].split("/", 1)[0])
    assert not (stack / "stack.env").exists()
    assert (stack / "signer" / "tenants.json").exists(), "the identities outlive the stack, for the next `cbec up`"
