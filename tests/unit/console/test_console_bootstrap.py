"""`cbec run console` from its settings: production refuses to start without its secrets and platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.privacy.cipher import new_key
from cbec.settings import Settings
from cbec_testkit.tenants import demo_registry
from console_service.accounts import Environment, MemoryAccounts, SqlAccounts
from console_service.bootstrap import ConsoleMisconfigured, process

TENANTS = demo_registry()
PRODUCTION = {"CBEC_ENV": "production", "CBEC_CONSOLE_SESSION_SECRET": "s" * 40,
              "CBEC_CONSOLE_SERVICE_URLS": '{"order": "http://order:8080"}',
              "CBEC_CONSOLE_API_KEYS": '{"3105960001": "cbec_k_s"}', "CBEC_CONSOLE_DATABASE_URL": "sqlite://",
              "CBEC_PII_KEYS": f"k1:{new_key()}"}


@pytest.mark.parametrize("missing", ["CBEC_CONSOLE_SESSION_SECRET", "CBEC_CONSOLE_SERVICE_URLS",
                                     "CBEC_CONSOLE_API_KEYS", "CBEC_PII_KEYS"])
def test_production_refuses_to_start_without_each_of_its_settings(missing: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConsoleMisconfigured, match=missing):
        process(Settings.from_environ(environ), TENANTS)


def test_production_calls_the_services_and_keeps_users_in_the_database() -> None:
    console = process(Settings.from_environ(PRODUCTION), TENANTS, sandbox=lambda _t: pytest.fail("no sandbox"))
    assert console.config.https_only
    assert isinstance(console.config.accounts, SqlAccounts)
    assert console.config.platforms[Environment.PRODUCTION] is not None
    assert console.config.platforms[Environment.SANDBOX] is None


def test_development_keeps_users_in_memory_and_serves_on_8080_by_default() -> None:
    console = process(Settings.from_environ({}), TENANTS)
    assert isinstance(console.config.accounts, MemoryAccounts) and console.port == 8080
    assert not console.config.https_only


def test_a_malformed_key_map_is_named() -> None:
    with pytest.raises(ConsoleMisconfigured, match="CBEC_CONSOLE_API_KEYS"):
        process(Settings.from_environ({"CBEC_CONSOLE_API_KEYS": "[1, 2]"}), TENANTS)


def test_users_made_by_the_cli_outlive_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    first = process(Settings.from_environ({"CBEC_CONSOLE_DATABASE_URL": url}), TENANTS).config
    from console_service.accounts import User

    first.accounts.add_user(User("ops", first.passwords.hash("ops-password-1"), {}, platform_operator=True))
    again = process(Settings.from_environ({"CBEC_CONSOLE_DATABASE_URL": url}), TENANTS).config
    assert again.accounts.user("ops") is not None
