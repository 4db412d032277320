"""Each tenant with a callback signs with its own webhook secret: the shared fallback would let any
tenant forge another's callbacks, so production refuses it and development only warns."""

from __future__ import annotations

import logging

import pytest
from cbec import production
from cbec.production import UnsafeForProduction
from cbec.settings import Settings
from cbec.tenants import TenantRegistry

TENANTS = TenantRegistry.from_json([
    {"customsCode": "3105960001", "name": "p", "roles": ["platform"], "dxpId": "D1", "callbackUrl": "https://p.example/h"},
    {"customsCode": "3105960002", "name": "q", "roles": ["payment"], "dxpId": "D2"},
])


def _check(**environ: str) -> None:
    settings = Settings.from_environ(environ)
    production.require(settings, production.webhook_problems(settings, TENANTS))


def test_production_refuses_the_shared_secret_for_a_tenant_with_a_callback() -> None:
    with pytest.raises(UnsafeForProduction, match="CBEC_WEBHOOK_SECRET_3105960001 .*forge"):
        _check(CBEC_ENV="production", CBEC_WEBHOOK_SECRET="shared")
    with pytest.raises(UnsafeForProduction, match="CBEC_WEBHOOK_SECRET_3105960001"):
        _check(CBEC_ENV="production")
    _check(CBEC_ENV="production", CBEC_WEBHOOK_SECRET_3105960001="own")  # the payer has no callback


def test_development_signs_with_the_shared_secret_but_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _check(CBEC_WEBHOOK_SECRET="shared")
    assert "CBEC_WEBHOOK_SECRET_3105960001" in caplog.text
    assert Settings.from_environ({"CBEC_WEBHOOK_SECRET": "shared"}).webhooks.secret_for("3105960001") == "shared"
