"""Each production pod gets every setting `CBEC_ENV=production` demands of its service (cbec.production):
the environment a Deployment renders (its ConfigMap, literal values, and a stand-in for each Secret key
it references) is read by the settings tree and passes the service's production checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cbec import production
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from rendered import BUILD_TIMEOUT, SERVICES, of_kind, render

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

DECLARATION = ("order", "payment", "logistics", "inventory")


def pod_environment(docs: tuple[dict[str, Any], ...], service: str) -> dict[str, str]:
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    [deployment] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == service]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= config_maps[source["configMapRef"]["name"]]
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            if not ref.get("optional"):
                env[entry["name"]] = f"from-secret-{ref['name']}-{ref['key']}"
    return env


def registry(docs: tuple[dict[str, Any], ...]) -> TenantRegistry:
    [tenants] = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "cbec-tenants"]
    return TenantRegistry.from_json(json.loads(tenants["data"]["tenants.json"]))


def production_problems(docs: tuple[dict[str, Any], ...], service: str) -> list[str]:
    settings = Settings.from_environ(pod_environment(docs, service))
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


def test_a_tenant_with_a_callback_gets_its_own_webhook_key_in_the_saga() -> None:
    docs = render("prod")
    hooked = [t.customs_code for t in registry(docs).all() if t.callback_url]
    assert hooked
    env = pod_environment(docs, "saga")
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
    url = next(e for e in order["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "CBEC_DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"] == {"name": "cbec-db-app", "key": "uri"}  # written by CloudNativePG
    assert not of_kind(render("prod"), "Cluster"), "production uses the platform's Postgres"
