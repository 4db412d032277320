"""Session fixtures for tests that need real servers: Kafka, Postgres, RabbitMQ and a PKCS#11 token.

Order of preference for each server:
1. the environment (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `SOFTHSM2_CONF` + `CBEC_PKCS11_*`,
   `CBEC_TEST_AMQP_URL`),
   as exported by `scripts/test.sh` or set by a developer pointing at external servers;
2. testcontainers, only when a Docker engine answers;
3. otherwise the test fails when integration is required (`CI=true` or `CBEC_REQUIRE_INTEGRATION=1`),
   else it is skipped: a silent skip in CI would let real-server tests never run.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest


def integration_required() -> bool:
    """True when tests needing real servers must fail rather than skip."""
    return (
        os.environ.get("CI", "").lower() in {"true", "1"} or os.environ.get("CBEC_REQUIRE_INTEGRATION") == "1"
    )


def fail_or_skip(why: str) -> NoReturn:
    """A test that cannot prove anything here: it fails under CI (integration required), else skips."""
    if integration_required():
        pytest.fail(why + " [integration required: CI=true or CBEC_REQUIRE_INTEGRATION=1]", pytrace=False)
    pytest.skip(why)


def _unavailable(what: str) -> NoReturn:
    fail_or_skip(f"{what} is not available: set it in the environment (scripts/test.sh starts one) "
                 "or run a Docker engine for testcontainers")


def docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping (checked cheaply first, so hosts without one stay fast)."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _kafka_container_class() -> Any:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer


def _postgres_container_class() -> Any:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers (`host:port[,host:port]`) of a real Kafka broker."""
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if from_env:
        yield from_env
        return
    if not docker_engine_answers():
        _unavailable("Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    container = _kafka_container_class()("apache/kafka:3.9.1").with_kraft()
    with container:
        yield str(container.get_bootstrap_server())


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A libpq URL (`postgresql://user[:pw]@host:port/db`) of a real Postgres database.

    SQLAlchemy users swap the scheme for `postgresql+psycopg://`.
    """
    from_env = os.environ.get("DATABASE_URL")
    if from_env:
        yield from_env
        return
    if not docker_engine_answers():
        _unavailable("Postgres (DATABASE_URL)")
    with _postgres_container_class()("postgres:15", driver="psycopg") as container:
        yield str(container.get_connection_url(driver=None))


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """An AMQP URL (`amqp://user:pw@host:port/vhost`) of a real RabbitMQ node (`scripts/rabbitmq.sh`)."""
    from_env = os.environ.get("CBEC_TEST_AMQP_URL")
    if not from_env:
        _unavailable("RabbitMQ (CBEC_TEST_AMQP_URL)")
    return from_env


@pytest.fixture
def pg_schema(database_url: str) -> Iterator[str]:
    """A fresh, uniquely named schema in `database_url`, dropped (with its contents) after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def kafka_topic_prefix(request: pytest.FixtureRequest) -> str:
    """A topic-name prefix unique to this test (e.g. `t-test_x-1a2b3c4d.`), so tests never share topics."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:40]
    return f"t-{readable}-{uuid.uuid4().hex[:8]}."


@dataclass(frozen=True)
class Pkcs11Token:
    """Where to find an initialised PKCS#11 token (SoftHSM2 in tests)."""

    module: str
    label: str
    pin: str


@pytest.fixture(scope="session")
def pkcs11_token() -> Pkcs11Token:
    """The SoftHSM2 token prepared by `scripts/softhsm.sh` (env `SOFTHSM2_CONF`, `CBEC_PKCS11_*`)."""
    module = os.environ.get("CBEC_PKCS11_MODULE")
    if not (os.environ.get("SOFTHSM2_CONF") and module and os.path.exists(module)):
        _unavailable("a PKCS#11 token (SOFTHSM2_CONF, CBEC_PKCS11_MODULE)")
    return Pkcs11Token(
        module=module,
        label=os.environ.get("CBEC_PKCS11_TOKEN_LABEL", "cbec-signer"),
        pin=os.environ.get("CBEC_PKCS11_PIN", ""),
    )


@dataclass(frozen=True)
class SecureKafka:
    """A broker with SASL/SCRAM and ACLs (`scripts/kafka-secure.sh`) and its super user."""

    bootstrap: str
    admin_user: str
    admin_password: str

    def env(self, user: str, password: str) -> dict[str, str]:
        """The `CBEC_KAFKA_*` variables of a process connecting as `user`."""
        return {"CBEC_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "CBEC_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CBEC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "CBEC_KAFKA_USERNAME": user,
                "CBEC_KAFKA_PASSWORD": password}

    def settings(self, user: str, password: str) -> Any:
        """The `kafka` settings section of a client connecting as `user`."""
        from cbec.settings import Settings

        return Settings.from_environ(self.env(user, password)).kafka

    def admin(self) -> Any:
        return self.settings(self.admin_user, self.admin_password)


@pytest.fixture(scope="session")
def secure_kafka() -> SecureKafka:
    """The SASL/SCRAM + ACL broker `scripts/test.sh` starts beside the plain one (`CBEC_SECURE_KAFKA_*`)."""
    bootstrap = os.environ.get("CBEC_SECURE_KAFKA_BOOTSTRAP")
    password = os.environ.get("CBEC_SECURE_KAFKA_ADMIN_PASSWORD")
    if not (bootstrap and password):
        _unavailable("a Kafka broker with SASL and ACLs (CBEC_SECURE_KAFKA_BOOTSTRAP)")
    return SecureKafka(bootstrap, os.environ.get("CBEC_SECURE_KAFKA_ADMIN_USER", "admin"), password)
