"""The chart as rendered by helm: helm itself comes from scripts/helm.sh (built once from the Go module
proxy at a pinned version and cached in .stack/bin). Without helm these tests skip on a laptop and
fail in CI (``CI=true`` or ``CBEC_REQUIRE_INTEGRATION=1``), like every test that needs a tool."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def integration_required() -> bool:
    """tests/conftest.py's rule (CI=true or CBEC_REQUIRE_INTEGRATION=1), loaded by path: the name
    ``conftest`` may be another folder's conftest when tests/unit is collected first."""
    spec = importlib.util.spec_from_file_location("cbec_tests_conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return bool(module.integration_required())


CHART = ROOT / "charts" / "cbec"
PROFILES = ("dev", "prod")
SERVICES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga")
BUILD_TIMEOUT = 1800  # seconds: a cold `go install` of helm on a small shared machine


@functools.cache
def _helm_or_reason() -> tuple[str | None, str]:
    try:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "helm.sh"), "path"], capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, f"building helm took over {BUILD_TIMEOUT}s"
    if done.returncode != 0:
        return None, f"scripts/helm.sh could not build helm: {done.stderr.strip()[-600:]}"
    return done.stdout.strip(), ""


def helm_binary() -> str:
    path, reason = _helm_or_reason()
    if path is None:
        if integration_required():
            pytest.fail(reason + " [CI=true or CBEC_REQUIRE_INTEGRATION=1: helm is required]", pytrace=False)
        pytest.skip(reason)
    return path


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=300, check=False)


def template_args(profile: str, *sets: str) -> list[str]:
    args = ["template", "cbec", str(CHART), "--namespace", "cbec", "-f", str(CHART / f"values-{profile}.yaml")]
    for s in sets:  # "json:key=<json>" is a --set-json
        args += ["--set-json", s[5:]] if s.startswith("json:") else ["--set", s]
    return args


@functools.cache
def render(profile: str, *sets: str) -> tuple[dict[str, Any], ...]:
    """Every document ``helm template`` renders for ``values-<profile>.yaml`` (plus ``--set`` overrides)."""
    done = helm(*template_args(profile, *sets))
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def render_error(profile: str, *sets: str) -> str:
    """The error of a render that must fail."""
    done = helm(*template_args(profile, *sets))
    assert done.returncode != 0, f"rendered although it must not: {sets}"
    return done.stderr


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: tuple[dict[str, Any], ...]) -> list[tuple[str, dict[str, Any]]]:
    """``(kind/name, pod spec)`` of every workload."""
    return [(f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
            for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def mounted_secret_files(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``path -> (Secret, key)`` for every file the container sees from a Secret item (``secret`` or
    ``projected`` volumes with ``items``), by where it mounts them."""
    by_volume: dict[str, list[tuple[str, str, str]]] = {}
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            sources = [{"secret": {"name": volume["secret"]["secretName"], "items": volume["secret"].get("items", [])}}]
        else:
            sources = volume.get("projected", {}).get("sources", [])
        by_volume[volume["name"]] = [(s["secret"]["name"], item["key"], item["path"])
                                     for s in sources if "secret" in s for item in s["secret"].get("items", [])]
    files = {}
    for mount in container.get("volumeMounts", []):
        for secret, key, path in by_volume.get(mount["name"], []):
            files[f"{mount['mountPath']}/{path}"] = (secret, key)
    return files
