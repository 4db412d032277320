"""One set of CBEC_KAFKA_* variables makes every Kafka client authenticate; production refuses an
unauthenticated broker connection, naming the variable."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cbec import production
from cbec.bus.security import KafkaSecurityError, client_options
from cbec.production import UnsafeForProduction
from cbec.settings import Settings

SCRAM = {"CBEC_KAFKA_BOOTSTRAP_SERVERS": "broker:9093", "CBEC_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
         "CBEC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "CBEC_KAFKA_USERNAME": "cbec-order",
         "CBEC_KAFKA_PASSWORD": "s3cret"}


def test_plaintext_gives_the_address_and_the_protocol_only() -> None:
    assert client_options(Settings.from_environ({}).kafka) == {
        "bootstrap_servers": "127.0.0.1:19092", "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("library", ["kafka-python", "aiokafka"])
def test_scram_credentials_reach_both_client_libraries(library: str) -> None:
    options = client_options(Settings.from_environ(SCRAM).kafka, library)  # type: ignore[arg-type]
    assert options == {"bootstrap_servers": "broker:9093", "security_protocol": "SASL_PLAINTEXT",
                       "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "cbec-order",
                       "sasl_plain_password": "s3cret"}


def test_the_password_is_a_secret_in_the_settings_tree() -> None:
    assert "s3cret" not in repr(Settings.from_environ(SCRAM).kafka)


def test_tls_is_files_for_kafka_python_and_an_ssl_context_for_aiokafka(tmp_path: Path) -> None:
    environ = {**SCRAM, "CBEC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CBEC_KAFKA_SSL_CAFILE": str(tmp_path / "ca.pem")}
    kafka = Settings.from_environ({k: v for k, v in environ.items() if k != "CBEC_KAFKA_SSL_CAFILE"}).kafka
    assert isinstance(client_options(kafka, "aiokafka")["ssl_context"], ssl.SSLContext)
    assert client_options(Settings.from_environ(environ).kafka)["ssl_cafile"] == str(tmp_path / "ca.pem")


@pytest.mark.parametrize("missing", ["CBEC_KAFKA_USERNAME", "CBEC_KAFKA_PASSWORD"])
def test_sasl_without_credentials_is_refused_naming_them(missing: str) -> None:
    kafka = Settings.from_environ({k: v for k, v in SCRAM.items() if k != missing}).kafka
    with pytest.raises(KafkaSecurityError, match=missing):
        client_options(kafka)


def test_production_refuses_plaintext_naming_the_variable() -> None:
    settings = Settings.from_environ({"CBEC_ENV": "production"})
    with pytest.raises(UnsafeForProduction, match="CBEC_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        production.require(settings, production.kafka_problems(settings))
    assert production.kafka_problems(Settings.from_environ({**SCRAM, "CBEC_ENV": "production"})) == []


def test_production_refuses_sasl_without_a_password_and_tls_without_a_client_certificate() -> None:
    no_password = {k: v for k, v in SCRAM.items() if k != "CBEC_KAFKA_PASSWORD"}
    assert ["CBEC_KAFKA_PASSWORD" in p for p in production.kafka_problems(Settings.from_environ(no_password))] == [True]
    tls_only = Settings.from_environ({"CBEC_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert "CBEC_KAFKA_SSL_CERTFILE" in production.kafka_problems(tls_only)[0]


def test_the_signer_worker_gets_the_same_credentials() -> None:
    from signer_service.bootstrap import worker_config

    config = worker_config(Settings.from_environ(SCRAM))
    assert config.client()["sasl_plain_username"] == "cbec-order"
    assert config.client()["bootstrap_servers"] == "broker:9093"


def test_a_faust_app_gets_the_same_credentials() -> None:
    import faust
    from cbec.bus.faust_app import make_app

    kafka = Settings.from_environ(SCRAM).kafka
    credentials = make_app("cbec-test", kafka.bootstrap_servers, kafka=kafka).conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("cbec-order", "s3cret")


def test_cbec_run_order_in_production_on_plaintext_exits_naming_the_protocol(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from cbec.privacy.cipher import new_key
    from cbec_testkit.tenants import DEMO_TENANTS

    (tmp_path / "tenants.json").write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CBEC_ENV": "production",
           "CBEC_TENANTS_FILE": str(tmp_path / "tenants.json"), "CBEC_PII_KEYS": f"k1:{new_key()}",
           "CBEC_PII_HMAC_KEY": "a-real-secret", "CBEC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cbec.db'}"}
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "run", "order"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    [line] = [x for x in done.stderr.splitlines() if "refusing to start" in x]
    assert "CBEC_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in line
