"""Every CBEC_* variable the chart sets is one the settings tree reads (a misspelt name would be
silently ignored), except any listed as proposed until the settings read them."""

from __future__ import annotations

from typing import Any

import pytest
from cbec.settings import WEBHOOK_SECRET_PREFIX, Settings, secret_names
from pydantic import AliasChoices, BaseModel
from rendered import BUILD_TIMEOUT, PROFILES, mounted_secret_files, of_kind, pod_specs, render, render_error

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

PROPOSED: set[str] = set()  # names the chart may set before the settings read them (none now)


def setting_names() -> set[str]:
    names: set[str] = {"CBEC_ENV"}
    for field in Settings.model_fields.values():
        section = field.annotation
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        for inner in section.model_fields.values():
            alias = inner.validation_alias
            if isinstance(alias, AliasChoices):
                names |= {c for c in alias.choices if isinstance(c, str)}
    return names | {f"{name}_FILE" for name in secret_names()}


def rendered_names(docs: tuple[dict[str, Any], ...]) -> set[str]:
    names = {k for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "cbec-config" for k in d["data"]}
    for _, pod in pod_specs(docs):
        for container in pod["containers"]:
            names |= {e["name"] for e in container.get("env", [])}
    return {n for n in names if n.startswith("CBEC_")}


def test_the_settings_tree_is_read_by_its_aliases() -> None:
    assert {"CBEC_KAFKA_BOOTSTRAP_SERVERS", "CBEC_PKCS11_PIN", "CBEC_CUSTOMS_AMQP_URL"} <= setting_names()


@pytest.mark.parametrize("profile", PROFILES)
def test_every_rendered_cbec_variable_is_a_setting(profile: str) -> None:
    unknown = {n for n in rendered_names(render(profile)) - setting_names() - PROPOSED
               if not n.startswith(WEBHOOK_SECRET_PREFIX) and not n.startswith("CBEC_PKCS11_SO_PIN")}
    assert unknown == set()


def test_the_customs_link_runs_on_amqp_without_a_shared_volume() -> None:
    docs = render("prod")
    [receipts] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "receipts"]
    pod = receipts["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CBEC_CUSTOMS_TRANSPORT"]["value"] == "amqp"
    url = env["CBEC_CUSTOMS_AMQP_URL_FILE"]["value"]
    assert mounted_secret_files(pod, container)[url] == ("cbec-customs-amqp", "url")
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert receipts["spec"]["replicas"] == 2  # the inbox lease holder and a warm standby


def test_file_drop_needs_a_shared_read_write_many_claim() -> None:
    error = render_error("prod", "customs.transport=filedrop")
    assert "customs.filedrop.existingClaim (ReadWriteMany" in error
    docs = render("prod", "customs.transport=filedrop", "customs.filedrop.existingClaim=dxp-share")
    [receipts] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "receipts"]
    volumes = {v["name"]: v for v in receipts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dxp"] == {"name": "dxp", "persistentVolumeClaim": {"claimName": "dxp-share"}}
    env = {e["name"]: e for e in receipts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CBEC_CUSTOMS_TRANSPORT"]["value"] == "filedrop"
    assert "CBEC_CUSTOMS_AMQP_URL" not in env and "CBEC_CUSTOMS_AMQP_URL_FILE" not in env
