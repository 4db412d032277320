"""Every pod the chart renders passes the Pod Security "restricted" level, runs under its own
ServiceAccount without a token, has a PodDisruptionBudget, and may talk only to what it needs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rendered import BUILD_TIMEOUT, PROFILES, SERVICES, mounted_secret_files, of_kind, pod_specs, render, render_error

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)


def restricted_problems(where: str, pod: dict[str, Any]) -> list[str]:
    """The Pod Security Standard "restricted" checks (v1.37) that apply to what the chart renders."""
    problems: list[str] = []
    pod_sc = pod.get("securityContext", {})
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(forbidden):
            problems.append(f"{where}: {forbidden}")
    for volume in pod.get("volumes", []):
        allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                   "projected", "secret", "name"}
        if set(volume) - allowed:
            problems.append(f"{where}: volume {volume['name']} of a restricted type")
    if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccompProfile is not RuntimeDefault")
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        name, sc = f"{where}/{container['name']}", container.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"] or set(sc.get("capabilities", {}).get("add", [])) - {
                "NET_BIND_SERVICE"}:
            problems.append(f"{name}: capabilities are not drop [ALL]")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as uid 0")
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: the root filesystem is writable")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_passes_pod_security_restricted_with_a_read_only_root(profile: str) -> None:
    pods = pod_specs(render(profile))
    assert {where for where, _ in pods} >= {f"Deployment/{s}" for s in SERVICES}
    problems = [p for where, pod in pods for p in restricted_problems(where, pod)]
    assert problems == []


def test_the_restricted_check_finds_a_pod_without_seccomp() -> None:
    [(where, pod)] = [p for p in pod_specs(render("prod")) if p[0] == "Deployment/order"]
    loose = {**pod, "securityContext": {"runAsNonRoot": True}}
    assert restricted_problems(where, loose) == ["Deployment/order: pod seccompProfile is not RuntimeDefault"]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_workload_runs_under_its_own_service_account_without_a_token(profile: str) -> None:
    docs = render(profile)
    accounts = {d["metadata"]["name"]: d for d in of_kind(docs, "ServiceAccount")}
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    for where, pod in pod_specs(docs):
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["serviceAccountName"] in accounts, where
    deployments = of_kind(docs, "Deployment")
    names = [d["spec"]["template"]["spec"]["serviceAccountName"] for d in deployments]
    assert len(set(names)) == len(deployments), "a ServiceAccount is shared between services"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_deployment_has_a_disruption_budget_that_never_blocks_a_drain_of_one(profile: str) -> None:
    docs = render(profile)
    budgets = {d["metadata"]["name"]: d["spec"] for d in of_kind(docs, "PodDisruptionBudget")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s["spec"]["minReplicaCount"] for s in of_kind(docs, "ScaledObject")}
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        budget = budgets[name]
        assert budget["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        least = scaled.get(name, deployment["spec"].get("replicas", 1))
        if "minAvailable" in budget:
            assert budget["minAvailable"] < least, f"{name}: the budget would block every eviction"
        else:
            assert budget["maxUnavailable"] >= 1


@pytest.mark.parametrize("profile", PROFILES)
def test_services_are_probed_on_livez_and_readyz_of_their_http_port(profile: str) -> None:
    for deployment in of_kind(render(profile), "Deployment"):
        name = deployment["metadata"]["name"]
        if name not in SERVICES:
            continue
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["cbec", "run", name]
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_production_renders_no_secret_no_simulator_and_images_by_digest() -> None:
    docs = render("prod")
    assert of_kind(docs, "Secret") == [], "production Secrets come from the secret store, never the chart"
    names = {d["metadata"]["name"] for d in docs}
    assert not names & {"simulator", "dxp-broker", "cbec-softhsm", "cbec-softhsm-init"}
    for where, pod in pod_specs(docs):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            assert re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", container["image"]), (where, container["image"])
    config = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "cbec-config")["data"]
    assert config["CBEC_ENV"] == "production"
    assert config["CBEC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_production_refuses_an_image_without_a_digest_and_the_development_parts() -> None:
    assert "images.digests.order is required" in render_error("prod", "images.digests.order=")
    assert "development only" in render_error("prod", "simulator.enabled=true")
    assert "SoftHSM2 is for development" in render_error("prod", "signer.pkcs11.module.source=softhsm")


def secret_values_in_env(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Env entries that carry a literal value under a secret-looking name."""
    found = []
    for where, pod in pod_specs(docs):
        for container in pod["containers"]:
            for entry in container.get("env", []):
                secretish = re.search(r"PASSWORD|PIN$|_KEYS?$|SECRET|TOKEN$|DATABASE_URL|AMQP_URL", entry["name"])
                if secretish and "value" in entry and not entry["name"].endswith("_FILE"):
                    found.append(f"{where}: {entry['name']}")
    return found


@pytest.mark.parametrize("profile", PROFILES)
def test_secrets_reach_pods_as_files_or_secret_references_never_as_literals(profile: str) -> None:
    docs = render(profile)
    assert secret_values_in_env(docs) == []
    [signer] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "signer"]
    pod = signer["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CBEC_SIGNER_CLIENTS_FILE"]["value"].startswith("/etc/cbec/")
    assert env["CBEC_PKCS11_PIN_FILE"]["value"] in mounted_secret_files(pod, container)


def test_software_keys_come_from_a_mounted_secret_of_files() -> None:
    docs = render("prod", "signer.backend=software")
    [signer] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "signer"]
    pod = signer["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["CBEC_SIGNER_BACKEND"] == "software"
    assert env["CBEC_SIGNER_TENANTS_FILE"] == "/etc/cbec/signer-keys/tenants.json"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["signer-keys"]["secret"]["secretName"] == "cbec-signer-keys"
    assert "CBEC_PKCS11_PIN" not in env and "CBEC_PKCS11_PIN_FILE" not in env


def test_the_vendor_pkcs11_module_is_copied_by_an_init_container_and_its_config_mounted() -> None:
    [signer] = [d for d in of_kind(render("prod"), "Deployment") if d["metadata"]["name"] == "signer"]
    pod = signer["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    assert {"name": "hsm-module", "mountPath": "/opt/hsm"} in init["volumeMounts"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CBEC_PKCS11_MODULE"].startswith("/opt/hsm/")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/opt/hsm"]["readOnly"] is True and mounts["/etc/hsm"]["readOnly"] is True


def test_dev_initialises_a_softhsm_token_onto_a_claim_the_signer_mounts() -> None:
    docs = render("dev")
    [job] = [j for j in of_kind(docs, "Job") if j["metadata"]["name"] == "cbec-softhsm-init"]
    [claim] = [c for c in of_kind(docs, "PersistentVolumeClaim") if c["metadata"]["name"] == "cbec-softhsm"]
    job_claims = {v["persistentVolumeClaim"]["claimName"] for v in job["spec"]["template"]["spec"]["volumes"]
                  if "persistentVolumeClaim" in v}
    [signer] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "signer"]
    signer_claims = {v["persistentVolumeClaim"]["claimName"] for v in signer["spec"]["template"]["spec"]["volumes"]
                     if "persistentVolumeClaim" in v}
    assert job_claims == signer_claims == {claim["metadata"]["name"]}
    env = {e["name"]: e.get("value") for e in signer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SOFTHSM2_CONF"] == "/var/lib/softhsm/softhsm2.conf"
    assert env["CBEC_SIGNER_TENANTS_FILE"] == "/var/lib/softhsm/signer-tenants.json"
    assert "simulator" in {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}


def egress_of(docs: tuple[dict[str, Any], ...], name: str) -> list[dict[str, Any]]:
    [policy] = [p for p in of_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == name]
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


def ports(rules: list[dict[str, Any]]) -> set[int]:
    return {p["port"] for rule in rules for p in rule["ports"]}


def test_network_policies_deny_by_default_and_open_each_service_only_what_it_needs() -> None:
    docs = render("prod")
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    deny = policies["cbec-default-deny"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "cbec"}}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    assert set(policies) == {"cbec-default-deny", *SERVICES, "cbec-migrate",  # the migration Job's: Postgres
                             "console", "console-clients"}  # the console's (tests/deploy/test_chart_console.py)
    assert ports(egress_of(docs, "order")) == {53, 9093, 5432, 4317, 4318, 443}  # data-open upload: 443
    assert ports(egress_of(docs, "payment")) == {53, 9093, 5432, 4317, 4318}  # no internet
    assert ports(egress_of(docs, "signer")) == {53, 9093, 4317, 4318, 1792}  # the HSM, no database
    assert ports(egress_of(docs, "receipts")) == {53, 9093, 5432, 4317, 4318, 5671}  # the DXP node (AMQPS)
    assert ports(egress_of(docs, "saga")) == {53, 9093, 5432, 4317, 4318, 443}  # webhooks
    [webhooks] = [r for r in egress_of(docs, "saga") if r["ports"] == [{"protocol": "TCP", "port": 443}]]
    assert "10.0.0.0/8" in webhooks["to"][0]["ipBlock"]["except"], "webhooks must not reach the cluster network"
    payment_ingress = policies["payment"]["ingress"]
    assert all(p["port"] == 8080 for rule in payment_ingress for p in rule["ports"])


def test_a_service_naming_an_undefined_destination_does_not_render() -> None:
    assert "networkPolicy.destinations does not define" in render_error("prod", "services.order.egress={dns,nowhere}")


def test_sm2_keys_on_a_vendor_hsm_need_its_mechanism_code() -> None:
    assert "sm2Mechanism" in render_error("prod", "signer.pkcs11.algorithm=SM2")
    docs = render("prod", "signer.pkcs11.algorithm=SM2", "signer.pkcs11.sm2Mechanism=2147483649")
    [signer] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "signer"]
    env = {e["name"]: e.get("value") for e in signer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CBEC_PKCS11_ALGORITHM"] == "SM2" and env["CBEC_PKCS11_SM2_MECHANISM"] == "2147483649"


def test_prometheus_scrapes_every_service_on_the_port_its_network_policy_opens_to_scrapers() -> None:
    docs = render("prod")
    [monitor] = of_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    selected = monitor["spec"]["selector"]["matchLabels"].items()
    services = [s for s in of_kind(docs, "Service") if selected <= s["metadata"]["labels"].items()]
    assert {s["metadata"]["name"] for s in services} == {*SERVICES, "console"}
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    for service in services:
        [port] = [p for p in service["spec"]["ports"] if p["name"] == "http"]
        scraped = policies[service["metadata"]["name"]]["ingress"][0]
        assert scraped["ports"] == [{"protocol": "TCP", "port": port["port"]}]
