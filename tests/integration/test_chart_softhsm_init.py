"""The dev SoftHSM2 token script (charts/cbec/files/softhsm-init.py: the chart's dev Job and compose's
softhsm-init service) leaves a token the signer signs with, for every tenant, with exactly the settings
the chart (values-dev.yaml) and docker-compose.yml give the signer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import fail_or_skip

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "charts" / "cbec" / "files" / "softhsm-init.py"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"

SIGN_WITH_EVERY_KEY = """
from cbec.settings import Settings
from cbec.signing.keys import verify_signature
from signer_service.backends import build_registry

registry, pools = build_registry(Settings().signer)
for code, pool in sorted(pools.items()):
    assert verify_signature(pool.algorithm, pool.certificate_der, b"CEB311", pool.sign(b"CEB311")), code
    print(code)
"""


def _tool_or_skip() -> None:
    if shutil.which("softhsm2-util") and Path(MODULE).exists():
        return
    fail_or_skip("SoftHSM2 (softhsm2-util, libsofthsm2.so) is not installed")


WANTED = ("CBEC_SIGNER_BACKEND", "CBEC_PKCS11_MODULE", "CBEC_PKCS11_TOKEN_LABEL", "CBEC_PKCS11_KEY_LABEL",
          "CBEC_SIGNER_CERT_PEM", "CBEC_SIGNER_TENANTS_FILE", "SOFTHSM2_CONF")


def signer_pod_env(token_dir: Path) -> dict[str, str]:
    """The signer's pkcs11 settings as values-dev.yaml renders them, with the PVC at ``token_dir``."""
    docs = [d for d in yaml.safe_load_all((ROOT / "k8s" / "dev.yaml").read_text(encoding="utf-8")) if d]
    [signer] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "signer"]
    env = {e["name"]: e["value"] for e in signer["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
    return {k: env[k].replace("/var/lib/softhsm", str(token_dir)) for k in WANTED}


def signer_compose_env(token_dir: Path) -> dict[str, str]:
    """The same settings as docker-compose.yml gives its signer, with the softhsm volume at ``token_dir``."""
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["signer"]["environment"]
    return {k: str(env[k]).replace("/var/lib/cbec/softhsm", str(token_dir)) for k in WANTED}


@pytest.mark.parametrize("deployment", [signer_pod_env, signer_compose_env], ids=["chart-dev", "compose"])
def test_the_token_job_gives_the_signer_a_key_for_every_demo_tenant(
        tmp_path: Path, deployment: Callable[[Path], dict[str, str]]) -> None:
    _tool_or_skip()
    from cbec_testkit.tenants import DEMO_TENANTS

    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    token = tmp_path / "softhsm"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CBEC_", "SOFTHSM2_"))}
    pins = {"CBEC_PKCS11_PIN": "1234-dev", "CBEC_PKCS11_SO_PIN": "5678"}
    # the chart and compose mount the PINs as files (/run/secrets/cbec), not values
    for name, pin in pins.items():
        (tmp_path / name).write_text(pin + "\n", encoding="utf-8")
    pins = {f"{name}_FILE": str(tmp_path / name) for name in pins}
    job = {**base, "SOFTHSM_DIR": str(token), "CBEC_TENANTS_FILE": str(tenants), "CBEC_PKCS11_MODULE": MODULE,
           "CBEC_PKCS11_TOKEN_LABEL": "cbec-signer", **pins}
    first = subprocess.run([sys.executable, str(SCRIPT)], env=job, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([sys.executable, str(SCRIPT)], env=job, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "token kept" in again.stdout  # a rerun Job keeps the keys

    pin = {k: v for k, v in pins.items() if k.startswith("CBEC_PKCS11_PIN")}
    pod = {**base, **deployment(token), "CBEC_PKCS11_MODULE": MODULE, **pin}
    signed = subprocess.run([sys.executable, "-c", SIGN_WITH_EVERY_KEY], env=pod, capture_output=True, text=True,
                            timeout=120)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.split() == sorted(t["customsCode"] for t in DEMO_TENANTS)
