"""Every secret may come from a file named by ``<NAME>_FILE`` (a mounted Kubernetes Secret): the value is
the file's content less one trailing newline; both forms, or a file that cannot be read, stop start-up
with a message naming the variables and the path, never the content."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from cbec import production
from cbec.production import UnsafeForProduction
from cbec.settings import SecretFileError, Settings, secret_names
from cbec.tenants import TenantRegistry
from pydantic import SecretStr

# each secret's variable and where the tree holds it
SECRETS: dict[str, Any] = {
    "CBEC_DATABASE_URL": lambda s: s.database.url,
    "CBEC_PII_KEYS": lambda s: s.pii.keys,
    "CBEC_PII_HMAC_KEY": lambda s: s.pii.hmac_key,
    "CBEC_PKCS11_PIN": lambda s: s.signer.pkcs11_pin,
    "CBEC_KAFKA_PASSWORD": lambda s: s.kafka.password,
    "CBEC_CUSTOMS_AMQP_URL": lambda s: s.link.amqp_url,
    "CBEC_WEBHOOK_SECRET": lambda s: s.webhooks.secret,
    "CBEC_WEBHOOK_SECRET_3105960001": lambda s: s.webhooks.tenant_secrets["3105960001"],
    "CBEC_SIGNER_TOKEN": lambda s: s.signer.token,
    "CBEC_SIGNER_KEY_PASSWORD": lambda s: s.signer.key_password,
    "CBEC_DATA_OPEN_KEY_PASSWORD": lambda s: s.data_open.key_password,
    "CBEC_CONSOLE_SESSION_SECRET": lambda s: s.console.session_secret,
    "CBEC_CONSOLE_API_KEYS": lambda s: s.console.api_keys,
    "CBEC_CONSOLE_DATABASE_URL": lambda s: s.console.database_url,
}


def _value(settings: Settings, name: str) -> str:
    held = SECRETS[name](settings)
    return held.get_secret_value() if isinstance(held, SecretStr) else str(held)


def _secret(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name.lower()
    path.write_text(content, encoding="utf-8")
    return path


def test_every_secret_setting_has_a_file_form() -> None:
    assert secret_names() | {"CBEC_WEBHOOK_SECRET_3105960001"} == set(SECRETS)


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_secret_is_read_from_its_file_less_one_trailing_newline(tmp_path: Path, name: str) -> None:
    path = _secret(tmp_path, name, "s3cret-value\n")
    settings = Settings.from_environ({f"{name}_FILE": str(path)})
    assert _value(settings, name) == "s3cret-value"


def test_only_one_trailing_newline_is_stripped(tmp_path: Path) -> None:
    kept = _secret(tmp_path, "pin", "1234\n\n")
    bare = _secret(tmp_path, "hmac", "no-newline")
    settings = Settings.from_environ({"CBEC_PKCS11_PIN_FILE": str(kept), "CBEC_PII_HMAC_KEY_FILE": str(bare)})
    assert settings.signer.pkcs11_pin.get_secret_value() == "1234\n"
    assert settings.pii.buyer_key() == b"no-newline"


def test_a_secret_given_both_ways_stops_start_up_naming_both(tmp_path: Path) -> None:
    path = _secret(tmp_path, "keys", "k1:AAAA\n")
    with pytest.raises(SecretFileError, match="both CBEC_PII_KEYS and CBEC_PII_KEYS_FILE are set"):
        Settings.from_environ({"CBEC_PII_KEYS": "k1:BBBB", "CBEC_PII_KEYS_FILE": str(path)})


def test_a_missing_file_stops_start_up_naming_the_variable_and_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "kafka-password"
    with pytest.raises(SecretFileError) as raised:
        Settings.from_environ({"CBEC_KAFKA_PASSWORD_FILE": str(missing)})
    assert str(raised.value) == (f"cbec: CBEC_KAFKA_PASSWORD_FILE={missing}: cannot read the secret file"
                                 " (No such file or directory)")


def test_an_unreadable_file_never_shows_its_content(tmp_path: Path) -> None:
    path = tmp_path / "pin"
    path.write_bytes(b"\xff\xfe not utf-8 secret")
    with pytest.raises(SecretFileError) as raised:
        Settings.from_environ({"CBEC_PKCS11_PIN_FILE": str(path)})
    assert str(path) in str(raised.value) and "secret" not in str(raised.value).replace("secret file", "")


def test_a_tenant_webhook_file_does_not_pass_for_a_tenant_of_its_own(tmp_path: Path) -> None:
    path = _secret(tmp_path, "hook", "own\n")
    shared = _secret(tmp_path, "shared", "everyone\n")
    hooks = Settings.from_environ({"CBEC_WEBHOOK_SECRET_3105960001_FILE": str(path),
                                   "CBEC_WEBHOOK_SECRET_FILE": str(shared)}).webhooks
    assert set(hooks.tenant_secrets) == {"3105960001"}
    assert hooks.own_secret("3105960001") == "own" and hooks.secret_for("3105960002") == "everyone"


def test_file_settings_of_their_own_keep_their_meaning(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    settings = Settings.from_environ({"CBEC_SIGNER_CLIENTS_FILE": str(clients), "CBEC_TENANTS_FILE": "/t.json"})
    assert settings.signer.clients_file == clients and settings.signer.clients is None
    assert settings.tenants.file == Path("/t.json")


def test_production_refusals_are_satisfied_by_files(tmp_path: Path) -> None:
    tenants = TenantRegistry.from_json([
        {"customsCode": "3105960001", "name": "p", "roles": ["platform"], "dxpId": "D1", "callbackUrl": "https://p/h"}])
    files = {f"{name}_FILE": str(_secret(tmp_path, name, f"{name.lower()}-value\n")) for name in (
        "CBEC_PII_KEYS", "CBEC_PII_HMAC_KEY", "CBEC_KAFKA_PASSWORD", "CBEC_WEBHOOK_SECRET_3105960001")}
    base = {"CBEC_ENV": "production", "CBEC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CBEC_KAFKA_USERNAME": "cbec-saga"}

    def problems(environ: dict[str, str]) -> list[str]:
        settings = Settings.from_environ(environ)
        return (production.personal_data_problems(settings) + production.buyer_key_problems(settings)
                + production.kafka_problems(settings) + production.webhook_problems(settings, tenants))

    assert len(problems(base)) == 4  # without them: each refused
    with pytest.raises(UnsafeForProduction, match="CBEC_PII_KEYS_FILE"):
        production.require(Settings.from_environ(base), problems(base))
    assert problems({**base, **files}) == []


def test_the_content_is_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _secret(tmp_path, "hmac", "do-not-log-me\n")
    caplog.set_level(logging.DEBUG)
    settings = Settings.from_environ({"CBEC_PII_HMAC_KEY_FILE": str(path)})
    production.require(settings, production.personal_data_problems(settings))
    assert "do-not-log-me" not in caplog.text and "do-not-log-me" not in repr(settings)
