"""`CBEC_ENV=production cbec run order` starts on complete settings (Kafka with SASL, Postgres, a tenant
registry, PII keys): it becomes ready, and SIGTERM ends it cleanly; the same on demo defaults exits at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cbec_testkit.tenants import DEMO_TENANTS
from conftest import SecureKafka
from service_processes import ServiceProcesses, process_env

pytestmark = pytest.mark.integration


def test_the_order_service_starts_in_production_with_complete_settings(
    secure_kafka: SecureKafka, database_url: str, tmp_path: Path
) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    env = process_env(secure_kafka.bootstrap, database_url, tmp_path, CBEC_ENV="production",
                      CBEC_TENANTS_FILE=str(tenants), CBEC_PII_HMAC_KEY="production-test-key",
                      CBEC_READY_FILE=str(tmp_path / "order.ready"),
                      **secure_kafka.env(secure_kafka.admin_user, secure_kafka.admin_password))
    processes = ServiceProcesses(env, tmp_path / "logs")
    processes.migrate()  # what the chart's hook Job does first
    try:
        processes.start("order")
        assert (tmp_path / "order.ready").exists()
    finally:
        codes = processes.stop()
    assert codes == {"order": 0}, processes.tails()
    assert "refusing" not in (tmp_path / "logs" / "order.log").read_text(errors="replace")


def test_the_same_without_the_registry_refuses_naming_it(kafka_bootstrap: str, database_url: str,
                                                        tmp_path: Path) -> None:
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_ENV="production")
    env.pop("CBEC_TENANTS_FILE", None)
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "CBEC_TENANTS_FILE" in done.stderr
