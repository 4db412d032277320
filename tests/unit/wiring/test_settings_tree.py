"""One settings tree: every documented CBEC_* name still configures the process, the Kafka and database
addresses follow one alias rule in every service (the signer too), and only the bootstrap reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cbec.settings import Settings
from pydantic import AliasChoices, BaseModel
from signer_service.bootstrap import worker_config

ROOT = Path(__file__).resolve().parents[3]
# Read by something other than a process's settings: the test runner, compose, `cbec up`.
NOT_SETTINGS = {"CBEC_REQUIRE_INTEGRATION", "CBEC_TEST_AMQP_URL", "CBEC_SIGNER_REPLICAS", "CBEC_STACK_DIR",
                "CBEC_SERVICE_NAME", "CBEC_COMPOSE_SECRETS"}


def known_names() -> set[str]:
    names = {"CBEC_ENV"}
    for name in Settings.model_fields:
        section = getattr(Settings.from_environ({}), name)
        if not isinstance(section, BaseModel):
            continue
        for field in type(section).model_fields.values():
            if isinstance(field.validation_alias, AliasChoices):
                names |= {str(choice) for choice in field.validation_alias.choices}
    return names


def test_every_documented_variable_is_read_by_the_tree() -> None:
    documented = set()
    for doc in (ROOT / "README.md", ROOT / "services" / "signer" / "README.md"):
        documented |= set(re.findall(r"CBEC_[A-Z0-9_]*[A-Z0-9]", doc.read_text(encoding="utf-8")))
    prefixes = {"CBEC_PKCS11", "CBEC_SIGNER", "CBEC_SIMULATOR", "CBEC_WEBHOOK_SECRET"}  # "CBEC_SIGNER_*" prose
    missing = documented - known_names() - NOT_SETTINGS - prefixes
    assert missing == set()


def test_sections_read_their_flat_names() -> None:
    settings = Settings.from_environ({
        "CBEC_TOPIC_PARTITIONS": "2", "CBEC_HTTP_PORT": "8081", "CBEC_READY_FILE": "/tmp/ready",
        "CBEC_SAGA_GATE": "2", "CBEC_REDECLARE_APP_TYPE": "1", "CBEC_QUOTA_ANNUAL_LIMIT": "100",
        "CBEC_SIGNER_KEY_PEM": "/keys/sign.key", "CBEC_PKCS11_PIN": "1234", "CBEC_CUSTOMS_GATEWAY_URL": "https://gw",
        "CBEC_SIMULATOR_DELAY": "0.5", "CBEC_WEBHOOK_SECRET_3105960001": "s1", "CBEC_ENV": "production",
    })
    assert (settings.kafka.topic_partitions, settings.process.http_port) == (2, 8081)
    assert settings.process.ready_file == Path("/tmp/ready")
    assert (settings.saga.gate, settings.declaration.redeclare_app_type) == (2, "1")
    assert str(settings.quota.annual_limit) == "100"
    assert settings.signer.key_pem == Path("/keys/sign.key")
    assert settings.signer.pkcs11_pin.get_secret_value() == "1234"
    assert settings.link.gateway_url == "https://gw" and settings.simulator.delay == 0.5
    assert settings.webhooks.secret_for("3105960001") == "s1" and settings.webhooks.secret_for("x") == ""
    assert settings.production


def test_defaults_are_development() -> None:
    settings = Settings.from_environ({})
    assert settings.env == "development" and not settings.production
    assert settings.tenants.file is None and settings.pii.key_spec() is None


@pytest.mark.parametrize(("environ", "expected"), [
    ({"KAFKA_BOOTSTRAP_SERVERS": "bare:9092"}, "bare:9092"),
    ({"CBEC_KAFKA_BOOTSTRAP_SERVERS": "ours:9092"}, "ours:9092"),
    ({"CBEC_KAFKA_BOOTSTRAP_SERVERS": "ours:9092", "KAFKA_BOOTSTRAP_SERVERS": "bare:9092"}, "ours:9092"),
    ({}, "127.0.0.1:19092"),
])
def test_one_kafka_rule_for_every_service_the_signer_included(environ: dict[str, str], expected: str) -> None:
    settings = Settings.from_environ(environ)
    assert settings.kafka.bootstrap_servers == expected
    assert worker_config(settings).bootstrap_servers == expected


@pytest.mark.parametrize(("environ", "expected"), [
    ({"DATABASE_URL": "postgresql://bare"}, "postgresql://bare"),
    ({"CBEC_DATABASE_URL": "postgresql://ours", "DATABASE_URL": "postgresql://bare"}, "postgresql://ours"),
])
def test_one_database_rule(environ: dict[str, str], expected: str) -> None:
    assert Settings.from_environ(environ).database.url == expected


def test_settings_read_the_process_environment_when_built_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CBEC_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "bare:1")
    monkeypatch.setenv("CBEC_SAGA_GATE", "2")
    settings = Settings()
    assert (settings.kafka.bootstrap_servers, settings.saga.gate) == ("bare:1", 2)


def test_a_service_built_from_settings_ignores_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Constructors take values: what the bootstrap was given wins over anything in os.environ."""
    from cbec.store.event_store import EventStore
    from cbec_testkit.tenants import demo_registry
    from inventory_service import bootstrap

    monkeypatch.setenv("CBEC_SAGA_GATE", "2")
    monkeypatch.setenv("CBEC_REDECLARE_APP_TYPE", "1")
    monkeypatch.setenv("CBEC_QUOTA_SINGLE_LIMIT", "1")
    settings = Settings.from_environ({"CBEC_PII_HMAC_KEY": "k"})
    store = EventStore.open(f"sqlite:///{tmp_path / 'inventory.db'}", schema="inventory", name="inventory")
    try:
        app = bootstrap.build(settings, demo_registry(), store).app
        quota = app.guards[0]
        assert (app.gate, app.redeclare_app_type, str(quota.single_limit)) == (120, "2", "5000")
    finally:
        store.close()
