"""Each production pod gets every setting `CBEC_ENV=production` demands of its service (cbec.production):
the environment a Deployment renders (its ConfigMap, literal values, and a stand-in for each Secret file
a ``*_FILE`` variable names) is read by the settings tree and passes the service's production checks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cbec import production
from cbec.settings import Settings, with_secret_files
from cbec.tenants import TenantRegistry
from rendered import BUILD_TIMEOUT, SERVICES, mounted_secret_files, of_kind, render

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

DECLARATION = ("order", "payment", "logistics", "inventory")


def pod_environment(docs: tuple[dict[str, Any], ...], service: str, tmp: Path) -> dict[str, str]:
    """The container's environment, each mounted Secret file a stand-in under ``tmp`` holding
    ``from-secret-<Secret>-<key>``; a ``*_FILE`` naming no mounted Secret item keeps its path."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    [deployment] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == service]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    files = mounted_secret_files(pod, container)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= config_maps[source["configMapRef"]["name"]]
    for entry in container.get("env", []):
        value = entry["value"]  # no value from a secretKeyRef (test_chart_hardening)
        if value in files:
            stand_in = tmp / value.strip("/").replace("/", "_")
            stand_in.write_text("from-secret-{}-{}\n".format(*files[value]), encoding="utf-8")
            value = str(stand_in)
        env[entry["name"]] = value
    return env


def registry(docs: tuple[dict[str, Any], ...]) -> TenantRegistry:
    [tenants] = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "cbec-tenants"]
    return TenantRegistry.from_json(json.loads(tenants["data"]["tenants.json"]))


def production_problems(docs: tuple[dict[str, Any], ...], service: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_environ(pod_environment(docs, service, Path(tmp)))
    problems = production.tenants_problems(settings) + production.kafka_problems(settings)
    if not settings.production:
        problems.append("CBEC_ENV is not production")
    if service in DECLARATION:
        problems += production.personal_data_problems(settings) + production.buyer_key_problems(settings)
    if service == "saga":
        problems += production.webhook_problems(settings, registry(docs))
    if service == "signer" and settings.signer.http_port and settings.signer.clients_file is None:
        problems.append("the signer's API is on without CBEC_SIGNER_CLIENTS_FILE")
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_each_production_pod_has_what_production_demands(service: str) -> None:
    assert production_problems(render("prod"), service) == []


def test_a_tenant_with_a_callback_gets_its_own_webhook_key_in_the_saga(tmp_path: Path) -> None:
    docs = render("prod")
    hooked = [t.customs_code for t in registry(docs).all() if t.callback_url]
    assert hooked
    env = with_secret_files(pod_environment(docs, "saga", tmp_path))
    assert all(env[f"CBEC_WEBHOOK_SECRET_{code}"] == f"from-secret-cbec-webhooks-{code}" for code in hooked)


def test_the_check_finds_what_the_development_values_leave_out() -> None:
    problems = production_problems(render("dev"), "order")
    assert "CBEC_ENV is not production" in problems
    assert any(p.startswith("CBEC_KAFKA_SECURITY_PROTOCOL is PLAINTEXT") for p in problems)


def test_dev_runs_on_an_example_cloudnativepg_cluster_with_daily_backups() -> None:
    docs = render("dev")
    [cluster] = of_kind(docs, "Cluster")
    [backup] = of_kind(docs, "ScheduledBackup")
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"] == "cbec-db"
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    [order] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "order"]
    pod = order["spec"]["template"]["spec"]
    [container] = pod["containers"]
    url = next(e["value"] for e in container["env"] if e["name"] == "CBEC_DATABASE_URL_FILE")
    assert mounted_secret_files(pod, container)[url] == ("cbec-db-app", "uri")  # written by CloudNativePG
    assert not of_kind(render("prod"), "Cluster"), "production uses the platform's Postgres"
