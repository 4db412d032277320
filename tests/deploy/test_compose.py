"""docker-compose.yml as `docker compose config` resolves it (no Docker engine needed): a valid file,
every secret a file under /run/secrets/cbec/ read through a ``*_FILE`` variable cbec knows, no secret in
any environment, a signer whose token is made before it starts, and a healthcheck on every service.

The compose CLI comes from scripts/compose.sh (built once from the Go module proxy at a pinned version
and cached in .stack/bin). Without it these tests skip on a laptop and fail in CI."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cbec.settings import Settings, secret_names, with_secret_files
from rendered import integration_required

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS_DIR = "/run/secrets/cbec/"
BUILD_TIMEOUT = 1800  # seconds: a cold build of compose from the module proxy on a small shared machine
SERVICES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga")
STORE_KEEPING = ("order", "payment", "logistics", "inventory", "receipts", "saga")
# *_FILE variables of programs other than cbec's settings tree
OTHER_READERS = {"POSTGRES_PASSWORD_FILE": "postgres", "CBEC_PKCS11_SO_PIN_FILE": "softhsm-init"}

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 300)


@functools.cache
def _compose_or_reason() -> tuple[str | None, str]:
    try:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "compose.sh"), "path"], capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, f"building docker compose took over {BUILD_TIMEOUT}s"
    if done.returncode != 0:
        return None, f"scripts/compose.sh could not build docker compose: {done.stderr.strip()[-600:]}"
    return done.stdout.strip(), ""


def compose(*args: str, file: Path = COMPOSE_FILE, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    path, reason = _compose_or_reason()
    if path is None:
        if integration_required():
            pytest.fail(reason + " [CI=true or CBEC_REQUIRE_INTEGRATION=1: docker compose is required]", pytrace=False)
        pytest.skip(reason)
    # no engine is asked: `config` only parses, interpolates and validates
    return subprocess.run([path, "-f", str(file), *args], capture_output=True, text=True, timeout=120, check=False,
                          cwd=file.parent, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".stack"), **(env or {})})


@functools.cache
def resolved() -> dict[str, Any]:
    """docker-compose.yml as compose resolves it (anchors merged, variables interpolated)."""
    done = compose("config", "--format", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def long_running() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in resolved()["services"].items() if s.get("restart") != "no"}


def mounted_secrets(service: dict[str, Any]) -> dict[str, str]:
    """target path -> the file on this host it comes from."""
    files = resolved()["secrets"]
    return {s["target"]: files[s["source"]]["file"] for s in service.get("secrets", [])}


def test_the_file_is_valid_and_names_every_service() -> None:
    assert set(SERVICES) | {"kafka", "postgres", "simulator", "softhsm-init"} <= set(resolved()["services"])


def test_compose_rejects_a_file_naming_an_undeclared_secret(tmp_path: Path) -> None:
    """The validation has teeth: the same file with one undeclared secret does not resolve."""
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("- {source: pkcs11-so-pin,", "- {source: no-such-secret,", 1), encoding="utf-8")
    shutil.copytree(ROOT / "compose", tmp_path / "compose")
    done = compose("config", "--quiet", file=broken)
    assert done.returncode != 0 and "no-such-secret" in done.stderr, done.stderr


def test_every_secret_is_a_mounted_file_named_by_a_file_variable_that_is_read() -> None:
    for name, service in resolved()["services"].items():
        env = service.get("environment") or {}
        mounted = mounted_secrets(service)
        named = {value: var for var, value in env.items() if var.endswith("_FILE") and value.startswith(SECRETS_DIR)}
        assert set(named) == set(mounted), (name, named, mounted)  # nothing mounted unread, nothing read unmounted
        assert all(target.startswith(SECRETS_DIR) for target in mounted), (name, mounted)
        for var in named.values():
            reader = OTHER_READERS.get(var)
            assert reader == name if reader else var[: -len("_FILE")] in secret_names(), (name, var)
        for target, source in mounted.items():
            assert Path(source).is_file() and Path(source).read_text(encoding="utf-8").strip(), (name, target, source)


def test_no_secret_is_in_any_environment() -> None:
    values = {Path(f["file"]).read_text(encoding="utf-8").strip() for f in resolved()["secrets"].values()}
    password = Path(resolved()["secrets"]["postgres-password"]["file"]).read_text(encoding="utf-8").strip()
    for name, service in resolved()["services"].items():
        env = service.get("environment") or {}
        assert not set(env) & (secret_names() | {"POSTGRES_PASSWORD", "DATABASE_URL"}), (name, env)
        assert not any(v and (v in values or password in v) for v in env.values()), name


def test_each_store_keeping_service_gets_its_settings_from_the_secret_files() -> None:
    """What cbec's settings tree reads from the mounted files: the database, PII keys, buyer key."""
    services = resolved()["services"]
    for name in STORE_KEEPING:
        service = services[name]
        mounted = mounted_secrets(service)
        env = {var: mounted.get(value, value) for var, value in service["environment"].items()}
        settings = Settings.from_environ(with_secret_files(env))
        assert settings.database.url.startswith("postgresql://cbec:"), name
        assert settings.pii.key_spec() and not settings.pii.uses_development_key(), name


def test_the_signer_signs_with_a_token_made_before_it_starts() -> None:
    services = resolved()["services"]
    signer, init = services["signer"], services["softhsm-init"]
    assert signer["depends_on"]["softhsm-init"]["condition"] == "service_completed_successfully"
    assert signer["environment"]["CBEC_SIGNER_BACKEND"] == "pkcs11"
    assert signer["environment"]["CBEC_PKCS11_MODULE"] == init["environment"]["CBEC_PKCS11_MODULE"]
    assert signer["environment"]["CBEC_PKCS11_TOKEN_LABEL"] == init["environment"]["CBEC_PKCS11_TOKEN_LABEL"]
    # the same PIN file for both, and the same volume where the token, its config and tenants file live
    assert mounted_secrets(signer)[signer["environment"]["CBEC_PKCS11_PIN_FILE"]] == \
        mounted_secrets(init)[init["environment"]["CBEC_PKCS11_PIN_FILE"]]
    [token] = [v for v in init["volumes"] if v["type"] == "volume"]
    assert token["target"] == init["environment"]["SOFTHSM_DIR"]
    assert any(v["type"] == "volume" and v["source"] == token["source"] and v["target"] == token["target"]
               for v in signer["volumes"])
    for var in ("SOFTHSM2_CONF", "CBEC_SIGNER_TENANTS_FILE", "CBEC_SIGNER_CERT_PEM"):
        assert signer["environment"][var].startswith(token["target"] + "/"), var
    # the one-shot runs the chart's dev script, mounted from this repository
    [script] = [v for v in init["volumes"] if v["type"] == "bind"]
    assert Path(script["source"]) == ROOT / "charts" / "cbec" / "files" / "softhsm-init.py"
    assert init["command"] == ["python", script["target"]] and script["read_only"]


def test_every_long_running_service_has_a_healthcheck_and_waits_for_healthy_servers() -> None:
    for name, service in long_running().items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL") and not check.get("disable"), name
        for dependency, how in (service.get("depends_on") or {}).items():
            if dependency in ("kafka", "postgres"):
                assert how["condition"] == "service_healthy", (name, dependency)
    for name in SERVICES:  # cbec's services are probed on the port their settings serve /readyz on
        service = long_running()[name]
        assert f":{service['environment']['CBEC_HTTP_PORT']}/readyz" in " ".join(service["healthcheck"]["test"])


def test_the_secrets_folder_is_chosen_by_cbec_compose_secrets(tmp_path: Path) -> None:
    done = compose("config", "--format", "json", env={"CBEC_COMPOSE_SECRETS": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    files = {s["file"] for s in json.loads(done.stdout)["secrets"].values()}
    assert files and all(Path(f).parent == tmp_path for f in files), files
