"""The deployment files parse and agree with the code: compose, Dockerfiles and Kubernetes manifests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cbec_cli.stack_runtime import DEFAULT_SERVICES

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to check the YAML files (add pyyaml to the lock)")

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.parent.name for p in ROOT.glob("services/*/*_service/__init__.py"))
NOT_IN_CHART: set[str] = set()  # every service package has its chart workload (the console: templates/console.yaml)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_service_package_has_a_service_in_the_local_stack_list() -> None:
    assert SERVICES, "no services/<name>/<name>_service packages found"
    assert set(SERVICES) <= set(DEFAULT_SERVICES)


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_image_runs_cbec_run_on_the_common_image(name: str) -> None:
    dockerfile = (ROOT / "services" / name / "Dockerfile").read_text()
    assert re.search(r"^FROM base$", dockerfile, re.M)
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert json.loads(cmd) == ["cbec", "run", name]


def test_the_common_image_installs_the_hashed_lock_and_runs_as_the_non_root_uid() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-\w+$", dockerfile, re.M)  # the Debian release named in the tag
    assert re.search(r"pip install --no-deps --require-hashes -r requirements\.lock", dockerfile)
    assert re.search(r"^USER 10001", dockerfile, re.M), "images run as the non-root uid the k8s manifests expect"
    assert compose()["services"]["base"]["build"]["dockerfile"] == "Dockerfile"


def test_compose_runs_kraft_kafka_3_9_and_postgres_15_with_health_checks() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"
    assert services["postgres"]["image"] == "postgres:15"
    for server in ("kafka", "postgres"):
        assert services[server]["healthcheck"]["test"]
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for single_broker_setting in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert kafka_env[single_broker_setting] == 1


def test_compose_starts_each_service_from_its_dockerfile_once_kafka_is_healthy_and_postgres_migrated() -> None:
    """Each service waits for the servers it uses (the signer keeps no store; the simulator uses neither):
    Kafka healthy, and Postgres through the one-shot migration, which waits for Postgres itself; each
    reads the database URL from its secret file (tests/deploy/test_compose.py checks them all)."""
    services = compose()["services"]
    assert services["migrate"]["command"] == ["cbec", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in [*SERVICES, "simulator"]:
        service = services[name]
        assert (ROOT / service["build"]["dockerfile"]).exists()
        env = service["environment"]
        uses = {"kafka": name != "simulator", "postgres": name not in ("signer", "simulator")}
        waits = {"kafka": ("kafka", "service_healthy"), "postgres": ("migrate", "service_completed_successfully")}
        for server, used in uses.items():
            if used:
                on, condition = waits[server]
                assert service["depends_on"][on] == {"condition": condition}, name
                assert env["CBEC_KAFKA_BOOTSTRAP_SERVERS" if server == "kafka" else "CBEC_DATABASE_URL_FILE"], name
        assert "CBEC_DATABASE_URL" not in env and "DATABASE_URL" not in env, name
    assert services["simulator"]["command"] == ["cbec", "run", "simulator"]


def test_compose_signs_on_a_softhsm_token_made_once_before_the_signer_starts() -> None:
    """The default compose stack signs: a one-shot service makes the token (the chart's dev script) on a
    volume the signer mounts (tests/integration/test_chart_softhsm_init.py signs with these settings)."""
    services = compose()["services"]
    init, signer = services["softhsm-init"], services["signer"]
    assert init["command"] == ["python", "/opt/cbec/softhsm-init.py"]
    assert "./charts/cbec/files/softhsm-init.py:/opt/cbec/softhsm-init.py:ro" in init["volumes"]
    assert signer["depends_on"]["softhsm-init"] == {"condition": "service_completed_successfully"}
    assert signer["environment"]["CBEC_SIGNER_BACKEND"] == "pkcs11"
    token = init["environment"]["SOFTHSM_DIR"]
    assert f"softhsm:{token}" in init["volumes"] and f"softhsm:{token}" in signer["volumes"]
    assert signer["environment"]["SOFTHSM2_CONF"] == f"{token}/softhsm2.conf"
    pin = "/run/secrets/cbec/pkcs11-pin"  # the same secret file for both (compose `secrets:`)
    assert signer["environment"]["CBEC_PKCS11_PIN_FILE"] == init["environment"]["CBEC_PKCS11_PIN_FILE"] == pin
    assert {"source": "pkcs11-pin", "target": pin} in signer["secrets"] and \
        {"source": "pkcs11-pin", "target": pin} in init["secrets"]
    assert token.startswith("/var/lib/cbec/"), "a folder the image gives uid 10001 (Dockerfile)"
    assert re.search(r"mkdir -p [^\n]*" + re.escape(token), (ROOT / "Dockerfile").read_text())


def chart_documents(profile: str = "prod") -> list[dict[str, Any]]:
    """The chart as rendered into k8s/ by `scripts/helm.sh render` (tests/deploy checks it is current)."""
    return load_all(ROOT / "k8s" / f"{profile}.yaml")


def test_k8s_holds_only_what_the_chart_generates() -> None:
    assert sorted(p.name for p in (ROOT / "k8s").iterdir()) == ["README.md", "dev.yaml", "prod.yaml"]
    for profile in ("dev", "prod"):
        first = (ROOT / "k8s" / f"{profile}.yaml").read_text().splitlines()[0]
        assert first.startswith("# GENERATED by scripts/helm.sh render"), profile


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_kubernetes_manifest_parses_and_names_its_kind(profile: str) -> None:
    for doc in chart_documents(profile):
        assert doc["apiVersion"] and doc["kind"], profile
        assert doc.get("metadata", {}).get("name"), (profile, doc["kind"])


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_kubernetes_runs_one_probed_deployment_per_service_with_shared_settings(profile: str) -> None:
    docs = chart_documents(profile)
    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) - {"simulator", "dxp-broker"} == set(SERVICES) - NOT_IN_CHART
    for name in sorted(set(SERVICES) - NOT_IN_CHART):
        deployment = deployments[name]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001, "the uid the Dockerfile's USER sets"
        [container] = pod["containers"]
        assert container["args"] == ["cbec", "run", name]
        assert "readinessProbe" in container and "livenessProbe" in container, name
        refs = {ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref}
        assert refs and refs <= config_maps, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_signer_scales_on_lag_and_keeps_one_replica_through_disruptions() -> None:
    docs = chart_documents("prod")
    scaled = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "ScaledObject"}
    signer = scaled["signer"]
    assert signer["scaleTargetRef"] == {"name": "signer"}
    assert 1 < signer["minReplicaCount"] < signer["maxReplicaCount"]
    assert not [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"], "KEDA owns the scaling"
    budgets = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert budgets["signer"]["minAvailable"] == 1
    assert budgets["signer"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "signer"
    assert not any(d["kind"] == "Secret" for d in docs), (
        "secrets are created from a secret store, not the repo"
    )
