"""The console in the chart: one hardened replica with its secrets as files, reachable from the ingress
namespace, calling the declaration APIs (whose pods accept it) and, for the operator view, Kafka."""

from __future__ import annotations

from typing import Any

import pytest
from rendered import BUILD_TIMEOUT, PROFILES, mounted_secret_files, of_kind, render, render_error

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)


def console(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    [deployment] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "console"]
    return deployment


@pytest.mark.parametrize("profile", PROFILES)
def test_the_console_is_one_replica_with_its_secrets_as_files(profile: str) -> None:
    docs = render(profile)
    deployment = console(docs)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["cbec", "run", "console"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    files = mounted_secret_files(pod, container)
    for variable, key in (("CBEC_CONSOLE_SESSION_SECRET_FILE", "session-secret"),
                          ("CBEC_CONSOLE_API_KEYS_FILE", "api-keys"), ("CBEC_PII_KEYS_FILE", "pii-keys")):
        assert files[env[variable]][1] == key, variable
    assert not {"CBEC_CONSOLE_SESSION_SECRET", "CBEC_CONSOLE_API_KEYS"} & set(env)
    assert env["CBEC_CONSOLE_OPERATOR_STATS"] == "kafka"
    assert env["CBEC_CONSOLE_SANDBOX"] == ("embedded" if profile == "dev" else "off")
    budget = next(b for b in of_kind(docs, "PodDisruptionBudget") if b["metadata"]["name"] == "console")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}
    service = next(s for s in of_kind(docs, "Service") if s["metadata"]["name"] == "console")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_network_policies_let_browsers_in_and_the_console_reach_only_the_apis_kafka_and_its_database() -> None:
    docs = render("prod")
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    own = policies["console"]
    assert [rule["from"] for rule in own["ingress"]] == [
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}]]
    namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for rule in own["egress"] for peer in rule["to"] if "namespaceSelector" in peer}
    assert namespaces == {"kube-system", "postgres", "observability", "kafka"}
    [apis] = [rule for rule in own["egress"] if "podSelector" in rule["to"][0]]
    assert apis["to"][0]["podSelector"]["matchExpressions"][0]["values"] == ["order", "payment", "logistics",
                                                                             "inventory"]
    clients = policies["console-clients"]
    assert clients["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "console"
    quiet = {p["metadata"]["name"]: p["spec"] for p in of_kind(render("prod", "console.operatorStats=false"),
                                                                "NetworkPolicy")}["console"]
    assert "kafka" not in str(quiet["egress"])


def test_the_operator_agent_has_a_kafka_user_reading_only_what_it_folds() -> None:
    [user] = [u for u in of_kind(render("prod"), "KafkaUser") if u["metadata"]["name"] == "cbec-console"]
    acls = {(a["resource"]["type"], a["resource"]["name"]): a["operations"]
            for a in user["spec"]["authorization"]["acls"]}
    assert acls[("topic", "cbec.out.status")] == ["Read"]
    assert acls[("topic", "cbec.feedback.order.receipts")] == ["Read"]
    assert not any("Write" in ops for (kind, name), ops in acls.items() if name.startswith("cbec."))
    assert ("group", "cbec-console-operator") in acls


def test_production_refuses_the_embedded_sandbox_and_a_console_image_without_a_digest() -> None:
    assert "development only" in render_error("prod", "console.sandbox=embedded")
    assert "images.digests.console is required" in render_error("prod", "images.digests.console=")
    assert not [d for d in render("prod", "console.enabled=false") if d["metadata"]["name"] == "console"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_console_is_probed_and_scraped_like_every_service(profile: str) -> None:
    [container] = console(render(profile))["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
