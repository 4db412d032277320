"""What a process refuses to run with when ``CBEC_ENV=production``: development stand-ins for secrets
and configuration. Development (the default, and ``cbec demo``/``cbec up``) only warns. A secret given as
``<NAME>_FILE`` is configured like one given as ``<NAME>`` (``cbec.settings`` reads the file)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cbec.settings import Settings
from cbec.tenants import TenantRegistry

log = logging.getLogger(__name__)


class UnsafeForProduction(SystemExit):
    """The process would run on a development stand-in; the message names the variable(s)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"cbec: refusing to start with CBEC_ENV=production: {'; '.join(problems)}")

    def __str__(self) -> str:
        return str(self.code)


def tenants_problems(settings: Settings) -> list[str]:
    if settings.tenants.file is None:
        return ["CBEC_TENANTS_FILE is not set (the built-in demo tenants are for development)"]
    return []


def personal_data_problems(settings: Settings) -> list[str]:
    if settings.pii.key_spec() is None:
        return ["CBEC_PII_KEYS (or CBEC_PII_KEYS_FILE) is not set (personal data would be stored unencrypted)"]
    return []


def buyer_key_problems(settings: Settings) -> list[str]:
    if settings.pii.uses_development_key():
        return ["CBEC_PII_HMAC_KEY (or CBEC_PII_HMAC_KEY_FILE) is not set (buyer quota keys would use the public"
                " development key)"]
    return []


def webhook_problems(settings: Settings, tenants: TenantRegistry) -> list[str]:
    """Each tenant with a callbackUrl needs its own HMAC key: with the shared ``CBEC_WEBHOOK_SECRET``
    any tenant could sign callbacks that pass for another's."""
    hooks = settings.webhooks
    problems = []
    for tenant in tenants.all():
        code = tenant.customs_code
        if not tenant.callback_url or hooks.own_secret(code):
            continue
        shared = " (the shared CBEC_WEBHOOK_SECRET would let any tenant forge its callbacks)" if hooks.secret_for(
            code) else ""
        problems.append(f"CBEC_WEBHOOK_SECRET_{code} (or CBEC_WEBHOOK_SECRET_{code}_FILE) is not set for tenant"
                        f" {code}, which has a callbackUrl{shared}")
    return problems


def kafka_problems(settings: Settings) -> list[str]:
    """Kafka without authentication (PLAINTEXT or SSL without a client certificate) or SASL without
    credentials: anyone who reaches the broker could write any command or receipt."""
    kafka = settings.kafka
    if kafka.security_protocol == "PLAINTEXT":
        return ["CBEC_KAFKA_SECURITY_PROTOCOL is PLAINTEXT (clients unauthenticated; use SASL_SSL or"
                " SASL_PLAINTEXT with SCRAM)"]
    if kafka.security_protocol == "SSL" and kafka.ssl_certfile is None:
        return ["CBEC_KAFKA_SSL_CERTFILE is not set (SSL without a client certificate authenticates nobody)"]
    problems = []
    if kafka.uses_sasl and not kafka.username:
        problems.append(f"CBEC_KAFKA_USERNAME is not set (required with {kafka.security_protocol})")
    if kafka.uses_sasl and (kafka.password is None or not kafka.password.get_secret_value()):
        problems.append(f"CBEC_KAFKA_PASSWORD (or CBEC_KAFKA_PASSWORD_FILE) is not set (required with"
                        f" {kafka.security_protocol})")
    return problems


def signer_problems(tenants: TenantRegistry, keyed: Iterable[str]) -> list[str]:
    have = set(keyed)
    return [f"CBEC_SIGNER_TENANTS_FILE names no signing key for tenant {t.customs_code}"
            for t in tenants.all() if t.customs_code not in have]


def signer_http_problems(settings: Settings, clients: int) -> list[str]:
    """The signer's HTTP API is on but no caller has its own token (who could sign for whom is unknown)."""
    if settings.signer.http_port and not clients:
        return ["CBEC_SIGNER_HTTP_PORT is set but CBEC_SIGNER_CLIENTS_FILE (or CBEC_SIGNER_CLIENTS) names no"
                " caller: each caller needs its own token and the customs codes it may sign for"]
    return []


def require(settings: Settings, problems: list[str]) -> None:
    """In production, refuse (``UnsafeForProduction``) when there is any problem; else warn about each."""
    if not problems:
        return
    if settings.production:
        raise UnsafeForProduction(problems)
    for problem in problems:
        log.warning("development settings: %s", problem)
