"""Single-value secrets reach the pods as files, never as environment values: no container takes one from
a ``secretKeyRef``, and every secret's ``*_FILE`` names an item of a read-only Secret volume it mounts
(mode 0400) under /run/secrets/cbec."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cbec.settings import WEBHOOK_SECRET_PREFIX, secret_names
from rendered import BUILD_TIMEOUT, PROFILES, mounted_secret_files, of_kind, pod_specs, render

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

SECRET_FILE = re.compile(rf"^({'|'.join(sorted(secret_names()))}|{WEBHOOK_SECRET_PREFIX}\w+|CBEC_PKCS11_SO_PIN)_FILE$")


def containers(docs: tuple[dict[str, Any], ...]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(f"{where}/{c['name']}", pod, c) for where, pod in pod_specs(docs)
            for c in [*pod.get("initContainers", []), *pod["containers"]]]


@pytest.mark.parametrize("profile", PROFILES)
def test_no_container_takes_a_value_from_a_secret_key(profile: str) -> None:
    from_secrets = [f"{where}: {e['name']}" for where, _, c in containers(render(profile))
                    for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert from_secrets == []


@pytest.mark.parametrize("sets", [(), ("signer.backend=software", "signer.software.hasKeyPassword=true",
                                       "secrets.signerClients.hasToken=true")])
@pytest.mark.parametrize("profile", PROFILES)
def test_every_secret_file_is_an_item_of_a_mounted_read_only_secret_volume(profile: str, sets: tuple[str, ...]) -> None:
    docs = render(profile, *sets)
    named = 0
    for where, pod, container in containers(docs):
        files = mounted_secret_files(pod, container)
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for entry in container.get("env", []):
            if not SECRET_FILE.match(entry["name"]):
                continue
            path = entry["value"]
            assert path in files, f"{where}: {entry['name']}={path} is no mounted Secret item"
            mount = mounts[path.rsplit("/", 1)[0]]
            volume = volumes[mount["name"]]
            assert mount["readOnly"] is True and mount["mountPath"] == "/run/secrets/cbec", where
            assert (volume.get("projected") or volume.get("secret"))["defaultMode"] == 0o400, where
            named += 1
    assert named >= 10


def test_each_service_reads_exactly_its_own_secrets() -> None:
    docs = render("prod", "secrets.signerClients.hasToken=true")
    files = {}
    for d in of_kind(docs, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        [container] = pod["containers"]
        files[d["metadata"]["name"]] = {e["name"] for e in container["env"] if SECRET_FILE.match(e["name"])}
    declaration = {"CBEC_DATABASE_URL_FILE", "CBEC_KAFKA_PASSWORD_FILE", "CBEC_PII_KEYS_FILE", "CBEC_PII_HMAC_KEY_FILE"}
    assert files["order"] == files["payment"] == declaration
    assert files["saga"] == declaration | {"CBEC_WEBHOOK_SECRET_3105960001_FILE"}
    assert files["receipts"] == declaration | {"CBEC_CUSTOMS_AMQP_URL_FILE"}
    assert files["signer"] == {"CBEC_KAFKA_PASSWORD_FILE", "CBEC_SIGNER_TOKEN_FILE", "CBEC_PKCS11_PIN_FILE"}
