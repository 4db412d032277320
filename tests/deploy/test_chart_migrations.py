"""The schema migration runs as a Helm hook Job (`cbec migrate`) before the services start or change, in
dev and prod: hardened like every pod (Pod Security "restricted", its own token-less ServiceAccount, the
database URL as a mounted file) and allowed to reach only DNS and Postgres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cbec.settings import Settings
from rendered import BUILD_TIMEOUT, PROFILES, mounted_secret_files, of_kind, render, render_error
from test_chart_hardening import ports, restricted_problems
from test_chart_production_settings import pod_environment

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)


def named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


def hook(doc: dict[str, Any]) -> tuple[set[str], int, set[str]]:
    annotations = doc["metadata"]["annotations"]
    return (set(annotations["helm.sh/hook"].split(",")), int(annotations["helm.sh/hook-weight"]),
            set(annotations["helm.sh/hook-delete-policy"].split(",")))


@pytest.mark.parametrize("profile", PROFILES)
def test_the_migration_job_runs_cbec_migrate_as_a_hook_before_every_upgrade(profile: str) -> None:
    docs = render(profile)
    job = named(docs, "Job", "cbec-migrate")
    phases, weight, deleted = hook(job)
    assert "pre-upgrade" in phases
    # production: before anything of the release; dev makes its database in the release, so after it
    assert ("pre-install" if profile == "prod" else "post-install") in phases
    assert deleted == {"before-hook-creation", "hook-succeeded"}  # a failed Job stays for its logs
    for kind in ("ServiceAccount", "NetworkPolicy"):  # they must exist before the Job's pod does
        their_phases, their_weight, _ = hook(named(docs, kind, "cbec-migrate"))
        assert their_phases == phases and their_weight < weight, kind
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["cbec", "migrate"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    order = named(docs, "Deployment", "order")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].rsplit("/", 1)[0] == order["image"].rsplit("/", 1)[0]  # a service image


@pytest.mark.parametrize("profile", PROFILES)
def test_the_migration_job_is_hardened_like_the_services(profile: str) -> None:
    docs = render(profile)
    pod = named(docs, "Job", "cbec-migrate")["spec"]["template"]["spec"]
    assert restricted_problems("Job/cbec-migrate", pod) == []
    assert pod["serviceAccountName"] == "cbec-migrate" and pod["automountServiceAccountToken"] is False
    assert named(docs, "ServiceAccount", "cbec-migrate")["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "CBEC_DATABASE_URL" not in env
    files = mounted_secret_files(pod, container)
    url_secret = named(docs, "Deployment", "order")["spec"]["template"]["spec"]
    service_files = mounted_secret_files(url_secret, url_secret["containers"][0])
    assert files[env["CBEC_DATABASE_URL_FILE"]] == service_files["/run/secrets/cbec/database-url"]  # the same URL
    config = named(docs, "ConfigMap", "cbec-config")["data"]
    assert (env["CBEC_ENV"], env["CBEC_SCHEMA_PREFIX"]) == (config["CBEC_ENV"], config["CBEC_SCHEMA_PREFIX"])


def test_its_network_policy_lets_it_reach_dns_and_postgres_only() -> None:
    docs = render("prod")
    policy = named(docs, "NetworkPolicy", "cbec-migrate")["spec"]
    job = named(docs, "Job", "cbec-migrate")
    assert policy["podSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and policy["ingress"] == []
    assert ports(policy["egress"]) == {53, 5432}
    deny = named(docs, "NetworkPolicy", "cbec-default-deny")["spec"]["podSelector"]["matchLabels"]
    assert deny.items() <= job["spec"]["template"]["metadata"]["labels"].items()  # everything else is denied


@pytest.mark.parametrize("service", ["order", "receipts", "saga"])
def test_production_services_never_migrate_the_database_themselves(service: str, tmp_path: Path) -> None:
    docs = render("prod", "json:config={\"CBEC_DB_MIGRATE\": \"auto\"}")  # even when asked to
    settings = Settings.from_environ(pod_environment(docs, service, tmp_path))
    assert settings.production and settings.database.migrate == "auto"
    assert not settings.migrates_at_start
    development = Settings.from_environ(pod_environment(render("dev"), service, tmp_path))
    assert development.migrates_at_start  # (there the Job runs after the install: services migrate too)


def test_the_job_can_be_left_out_and_refuses_an_unknown_hook_or_destination() -> None:
    docs = render("prod", "migrations.enabled=false")
    assert not [d for d in docs if d["metadata"]["name"] == "cbec-migrate"]
    assert "migrations" in render_error("prod", "migrations.hooks=post-delete")
    assert "networkPolicy.destinations does not define" in render_error("prod", "migrations.egress={dns,nowhere}")
