"""With CBEC_ENV=production a process refuses to start on a development stand-in, naming the variable;
in development the same settings only warn."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cbec.privacy.cipher import new_key
from cbec.production import UnsafeForProduction
from cbec.settings import Settings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS, demo_registry
from inventory_service import bootstrap as inventory
from order_service import bootstrap as order
from saga_service import bootstrap as saga
from signer_service import bootstrap as signer


def complete(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production settings with nothing left to its development stand-in."""
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    return {"CBEC_ENV": "production", "CBEC_TENANTS_FILE": str(tenants), "CBEC_PII_KEYS": f"k1:{new_key()}",
            "CBEC_PII_HMAC_KEY": "a-real-secret", **extra}


def without(environ: dict[str, str], name: str) -> Settings:
    return Settings.from_environ({k: v for k, v in environ.items() if k != name})


@pytest.mark.parametrize("missing", ["CBEC_TENANTS_FILE", "CBEC_PII_KEYS"])
def test_a_declaration_service_names_what_is_missing(tmp_path: Path, missing: str) -> None:
    with pytest.raises(UnsafeForProduction, match=missing) as refused:
        order.check(without(complete(tmp_path), missing))
    assert len(refused.value.problems) == 1 and str(refused.value).startswith("cbec: refusing to start")


def test_the_inventory_refuses_the_development_buyer_key(tmp_path: Path) -> None:
    settings = without(complete(tmp_path), "CBEC_PII_HMAC_KEY")
    order.check(settings)  # the order service does not pseudonymise buyers
    with pytest.raises(UnsafeForProduction, match="CBEC_PII_HMAC_KEY"):
        inventory.check(settings)


def test_the_saga_refuses_a_callback_url_without_a_webhook_secret(tmp_path: Path) -> None:
    tenants = TenantRegistry.from_json([{**t, "callbackUrl": "https://platform.example/hooks"}
                                        if t["customsCode"] == "3105960001" else t for t in DEMO_TENANTS])
    with pytest.raises(UnsafeForProduction, match="CBEC_WEBHOOK_SECRET_3105960001"):
        saga.check(Settings.from_environ(complete(tmp_path)), tenants)
    saga.check(Settings.from_environ(complete(tmp_path, CBEC_WEBHOOK_SECRET_3105960001="s")), tenants)
    with pytest.raises(UnsafeForProduction, match="shared CBEC_WEBHOOK_SECRET"):
        saga.check(Settings.from_environ(complete(tmp_path, CBEC_WEBHOOK_SECRET="shared")), tenants)


def test_the_signer_refuses_a_tenant_it_has_no_key_for(tmp_path: Path) -> None:
    settings = Settings.from_environ(complete(tmp_path))
    tenants = demo_registry()
    keys = {t.customs_code: SoftwareSM2Key.from_pem(*generate_sm2_identity(t.customs_code, t.name))
            for t in tenants.all()[:1]}
    app = signer.build_app(settings, keys)
    try:
        with pytest.raises(UnsafeForProduction, match="no signing key for tenant 3105960002"):
            signer.check(settings, tenants, app)
    finally:
        app.close()


def test_development_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = without({k: v for k, v in complete(tmp_path).items() if k != "CBEC_ENV"}, "CBEC_PII_KEYS")
    inventory.check(settings)
    assert "CBEC_PII_KEYS" in caplog.text


def test_cbec_run_order_on_demo_defaults_exits_at_once_naming_the_setting(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CBEC_ENV": "production", "HOME": str(tmp_path),
           "CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cbec.db'}", "CBEC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert time.monotonic() - started < 30
    [line] = [x for x in done.stderr.splitlines() if "refusing to start" in x]
    assert "CBEC_TENANTS_FILE" in line


def test_cbec_run_order_names_every_missing_secret_once_tenants_are_configured(tmp_path: Path) -> None:
    environ = complete(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CBEC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cbec.db'}",
           **{k: v for k, v in environ.items() if k not in ("CBEC_PII_KEYS", "CBEC_PII_HMAC_KEY")}}
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "CBEC_PII_KEYS" in done.stderr and "CBEC_TENANTS_FILE" not in done.stderr
