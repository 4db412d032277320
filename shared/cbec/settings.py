"""The one settings tree of a cbec process, read once from the environment by the service's bootstrap.

Every field keeps its documented flat ``CBEC_*`` name (``validation_alias``); the Kafka and database
addresses also accept the bare ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` every Kafka or Postgres
tool knows, the ``CBEC_`` name winning when both are set. Nothing else in the product reads the
environment: constructors take values. Secrets never live in the repository.

Every secret (each ``SecretStr`` field, ``CBEC_DATABASE_URL`` and ``CBEC_WEBHOOK_SECRET_<code>``) may
instead be given as a file: ``<NAME>_FILE`` names it (a mounted Kubernetes Secret, a compose secret), its
content less one trailing newline is the value. Setting both, or naming a file that cannot be read,
stops the process at start-up with a message naming the variables and the path, never the content.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cbec.contracts import topics

DEVELOPMENT_HMAC_KEY = "cbec-development-only-hmac-key"
WEBHOOK_SECRET_PREFIX = "CBEC_WEBHOOK_SECRET_"


def env(*names: str, default: Any = None) -> Any:
    """A field read from the first of ``names`` that is set."""
    return Field(default, validation_alias=AliasChoices(*names))


class Section(BaseModel):
    """A group of settings; validated from the whole environment mapping, by alias."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class KafkaSettings(Section):
    """The broker address and how every client of the process authenticates to it
    (``cbec.bus.security.client_options`` turns it into client keyword arguments).
    ``CBEC_KAFKA_MAX_MESSAGE_BYTES``: the largest message cbec writes (topics are created with it as
    ``max.message.bytes``, dead-letter topics with twice as much; producers match it); a larger one is
    dead-lettered by the outbox relay. ``CBEC_KAFKA_POISON_ATTEMPTS``: how often a consumer tries a
    message before dead-lettering it."""

    bootstrap_servers: str = env("CBEC_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:19092")
    topic_partitions: int = env("CBEC_TOPIC_PARTITIONS", default=4)
    max_message_bytes: int = env("CBEC_KAFKA_MAX_MESSAGE_BYTES", default=4 * 1024 * 1024)
    poison_attempts: int = env("CBEC_KAFKA_POISON_ATTEMPTS", default=3)
    # How an idle consumer paces itself (cbec.bus.kafka, issue #12): the broker holds an empty fetch this
    # long (answered at once when data arrives), the group heartbeat, and the longest poll (how soon SIGTERM
    # is seen by an idle consumer).
    fetch_max_wait_ms: int = env("CBEC_KAFKA_FETCH_MAX_WAIT_MS", default=5_000)
    heartbeat_interval_ms: int = env("CBEC_KAFKA_HEARTBEAT_INTERVAL_MS", default=10_000)
    poll_timeout: float = env("CBEC_KAFKA_POLL_TIMEOUT", default=2.0)
    # 0: the services never create topics (a platform team's operator, e.g. Strimzi, owns them)
    create_topics: bool = env("CBEC_KAFKA_CREATE_TOPICS", default=True)
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = env(
        "CBEC_KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT")
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = env("CBEC_KAFKA_SASL_MECHANISM",
                                                                    default="SCRAM-SHA-512")
    username: str | None = env("CBEC_KAFKA_USERNAME")
    password: SecretStr | None = env("CBEC_KAFKA_PASSWORD")
    ssl_cafile: Path | None = env("CBEC_KAFKA_SSL_CAFILE")
    ssl_certfile: Path | None = env("CBEC_KAFKA_SSL_CERTFILE")
    ssl_keyfile: Path | None = env("CBEC_KAFKA_SSL_KEYFILE")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


class DatabaseSettings(Section):
    """Where the service's tables live and how many connections it holds.

    ``CBEC_DATABASE_URL`` is a libpq URL: every option in it (``sslmode``, ``sslrootcert``,
    ``target_session_attrs``, ``application_name``, ``options`` …) reaches every connection.
    ``CBEC_DB_POOL_SIZE`` / ``CBEC_DB_MAX_OVERFLOW``: the connections each pool keeps / may add under
    load; a declaration service has two such pools (event store, read model; order a third, its 179
    store), so at most ``2 × (pool size + max overflow)`` pooled connections per process, order 3 ×
    (see docs/runbook.md §1)."""

    url: str = env("CBEC_DATABASE_URL", "DATABASE_URL", default="sqlite:///cbec.db")
    pool_size: int = Field(5, ge=1, validation_alias=AliasChoices("CBEC_DB_POOL_SIZE"))
    max_overflow: int = Field(10, ge=0, validation_alias=AliasChoices("CBEC_DB_MAX_OVERFLOW"))
    # Each service's tables live in schema <prefix><service>; the prefix also keeps "order" (a reserved
    # word) out of bare identifiers and isolates test runs that share one database.
    schema_prefix: str = env("CBEC_SCHEMA_PREFIX", default="cbec_")
    # Postgres schema changes (cbec.migrations): "auto" brings the database to the newest migration when a
    # service starts (development); "off" only checks it is there and refuses to start if not (run
    # `cbec migrate`, in Kubernetes the chart's migration Job). CBEC_ENV=production is always "off".
    migrate: Literal["auto", "off"] = env("CBEC_DB_MIGRATE", default="auto")

    def schema_for(self, service: str) -> str:
        """The Postgres schema (or SQLite file stem) that holds ``service``'s tables."""
        return self.schema_prefix + service


class DxpSettings(Section):
    outbox: Path = env("CBEC_DXP_OUTBOX", default=Path(".stack/dxp/outbox"))
    inbox: Path = env("CBEC_DXP_INBOX", default=Path(".stack/dxp/inbox"))
    poll_every: float = env("CBEC_DXP_POLL_EVERY", default=0.5)  # seconds an idle inbox poller waits
    # The DXP client's folder of files it has sent (its send backup), if it keeps one: the link moves them
    # to <outbox>/archive/<yyyyMMdd>/. Files left in the outbox longer than keep_days are archived too.
    sent: Path | None = env("CBEC_DXP_SENT")
    outbox_keep_days: float = env("CBEC_DXP_OUTBOX_KEEP_DAYS", default=30.0)


class ProcessSettings(Section):
    """How the process presents itself: HTTP listener, readiness file, loop pacing, log level."""

    # The one port of the process: its HTTP API if it has one, and /livez, /readyz, /metrics (cbec.health).
    http_port: int | None = env("CBEC_HTTP_PORT")
    http_host: str = env("CBEC_HTTP_HOST", default="0.0.0.0")  # noqa: S104 - probes reach the pod address
    ready_file: Path | None = env("CBEC_READY_FILE")
    poll_interval: float = env("CBEC_POLL_INTERVAL", default=0.05)
    log_level: str | None = env("CBEC_LOG_LEVEL")  # default: INFO for services, WARNING for the demo
    # SIGTERM: the loops finish their batch within 2/3 of the grace, closing gets the rest; then it exits.
    shutdown_grace: float = env("CBEC_SHUTDOWN_GRACE", default=25.0)
    stall_after: float = env("CBEC_STALL_AFTER", default=300.0)  # /livez: a round busy this long is stuck

    @property
    def shutdown_timeout(self) -> float:
        """The process runtime's time for the loops to finish (2/3 of the grace)."""
        return self.shutdown_grace * 2 / 3

    @property
    def close_timeout(self) -> float:
        """The process runtime's time for closing after that (the rest of the grace)."""
        return self.shutdown_grace / 3


class TenantsSettings(Section):
    file: Path | None = env("CBEC_TENANTS_FILE")


class ApiKeysSettings(Section):
    """The HTTP API's keys: a file, else inline JSON, else none (every call is 401)."""

    file: Path | None = env("CBEC_API_KEYS_FILE")
    inline: SecretStr | None = env("CBEC_API_KEYS")


class PiiSettings(Section):
    keys: SecretStr | None = env("CBEC_PII_KEYS")  # k2:<base64>,k1:<base64>; the first is current
    hmac_key: SecretStr | None = env("CBEC_PII_HMAC_KEY")

    def key_spec(self) -> str | None:
        value = self.keys.get_secret_value().strip() if self.keys is not None else ""
        return value or None

    def buyer_key(self) -> bytes:
        """The key that pseudonymises buyer ID numbers; the public development key when none is set."""
        value = self.hmac_key.get_secret_value() if self.hmac_key is not None else ""
        return (value or DEVELOPMENT_HMAC_KEY).encode()

    def uses_development_key(self) -> bool:
        return self.buyer_key() == DEVELOPMENT_HMAC_KEY.encode()


class QuotaLimits(Section):
    annual_limit: Decimal = env("CBEC_QUOTA_ANNUAL_LIMIT", default=Decimal("26000"))
    single_limit: Decimal = env("CBEC_QUOTA_SINGLE_LIMIT", default=Decimal("5000"))


class DeclarationSettings(Section):
    """``CBEC_REDECLARE_APP_TYPE``: declare a corrected document after a rejection as a change (``2``)
    or afresh (``1``). ``CBEC_RESULTS_PARKED_MAX_DAYS`` (30): a customs result parked longer than this,
    waiting for the receipt numbering its document, counts as overdue (``cbec_results_parked_overdue``).
    ``CBEC_RESULTS_PARKED_MAX`` (10000): at most this many customs results of a type wait parked; one more is
    dead-lettered (CBEC-2021), so a broken or hostile customs side cannot grow the store without bound."""

    redeclare_app_type: Literal["1", "2"] = env("CBEC_REDECLARE_APP_TYPE", default="2")
    results_parked_max_days: float = env("CBEC_RESULTS_PARKED_MAX_DAYS", default=30.0)
    results_parked_max: int = Field(10_000, ge=1, validation_alias=AliasChoices("CBEC_RESULTS_PARKED_MAX"))


class IntakeLimitSettings(Section):
    """Limits every intake (HTTP and Kafka) applies before other work (:mod:`cbec.intake_limits`):
    ``CBEC_MAX_BODY_BYTES`` (a request body or intake message, 2 MiB), ``CBEC_JSON_MAX_DEPTH`` (32)
    and ``CBEC_MAX_FINDINGS`` (findings returned or recorded per refusal, 100)."""

    max_body_bytes: int = env("CBEC_MAX_BODY_BYTES", default=2 * 1024 * 1024)
    json_max_depth: int = env("CBEC_JSON_MAX_DEPTH", default=32)
    max_findings: int = env("CBEC_MAX_FINDINGS", default=100)


class SagaSettings(Section):
    """``CBEC_SAGA_GATE`` (120 or 2): the status below which a document customs answered may still be
    resent; the saga and the declaration services both use it. Receipt deadline and resends."""

    gate: int = env("CBEC_SAGA_GATE", default=120)
    receipt_timeout: float = env("CBEC_SAGA_RECEIPT_TIMEOUT", default=600.0)  # seconds after a send
    max_resends: int = env("CBEC_SAGA_MAX_RESENDS", default=3)
    # A receipt whose returnTime is later than now + this many seconds is refused (declaration services
    # and saga): customs' clock may run a little ahead, a forged receipt far ahead.
    receipt_max_skew: float = env("CBEC_RECEIPT_MAX_SKEW", default=600.0)
    # Export: the trade modes whose list (CEB603) waits for a 收款单 (CEB403), comma-separated ("9610,9710";
    # "*" every mode; empty: none) -- where the region requires one.
    export_collection: str = env("CBEC_SAGA_EXPORT_COLLECTION", default="")


class WebhookSettings(Section):
    """Delivery policy and HMAC keys: ``CBEC_WEBHOOK_SECRET_<code>`` per tenant; the shared
    ``CBEC_WEBHOOK_SECRET`` fallback is for development only (production refuses to rely on it)."""

    max_attempts: int = env("CBEC_WEBHOOK_MAX_ATTEMPTS", default=6)
    backoff: float = env("CBEC_WEBHOOK_BACKOFF", default=2.0)  # seconds before the 2nd attempt; doubles
    timeout: float = env("CBEC_WEBHOOK_TIMEOUT", default=5.0)
    secret: SecretStr = env("CBEC_WEBHOOK_SECRET", default=SecretStr(""))
    tenant_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _per_tenant(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "tenant_secrets" not in data:
            found = {k[len(WEBHOOK_SECRET_PREFIX):]: v for k, v in data.items()
                     if isinstance(k, str) and k.startswith(WEBHOOK_SECRET_PREFIX) and v}
            return {**data, "tenant_secrets": found}
        return data

    def own_secret(self, tenant: str) -> str:
        """The tenant's own key; empty when it has none."""
        own = self.tenant_secrets.get(tenant)
        return own.get_secret_value() if own is not None else ""

    def secret_for(self, tenant: str) -> str:
        """The tenant's key, else the default; empty when neither is set."""
        own = self.tenant_secrets.get(tenant)
        return (own or self.secret).get_secret_value()


class NotificationSettings(Section):
    """The saga's notification service (push and pull of status messages): how long notifications are
    kept (``CBEC_NOTIFICATION_RETENTION_DAYS``, 30), the longest wait between two probes of a blocked
    callback, how often expired ones are pruned, and the operators' API keys (a registry of its own:
    no tenant key is ever an operator key)."""

    retention_days: float = env("CBEC_NOTIFICATION_RETENTION_DAYS", default=30.0)
    probe_max_backoff: float = env("CBEC_NOTIFICATION_PROBE_MAX_BACKOFF", default=600.0)  # seconds
    prune_every: float = env("CBEC_NOTIFICATION_PRUNE_EVERY", default=3600.0)  # seconds
    operator_keys_file: Path | None = env("CBEC_OPERATOR_API_KEYS_FILE")
    operator_keys: SecretStr | None = env("CBEC_OPERATOR_API_KEYS")


class SignerSettings(Section):
    group_id: str = env("CBEC_SIGNER_GROUP_ID", default="cbec-signer")
    requests_topic: str = env("CBEC_SIGNER_REQUESTS_TOPIC", default=topics.SIGN_REQUESTS)
    results_topic: str = env("CBEC_SIGNER_RESULTS_TOPIC", default=topics.SIGN_RESULTS)
    dlq_topic: str = env("CBEC_SIGNER_DLQ_TOPIC", default=topics.SIGNER_DEAD_LETTERS)
    batch_size: int = env("CBEC_SIGNER_BATCH_SIZE", default=500)
    threads: int = env("CBEC_SIGNER_THREADS", default=1)
    cache_size: int = env("CBEC_SIGNER_CACHE_SIZE", default=10_000)
    warm_cache_per_partition: int = env("CBEC_SIGNER_WARM_CACHE_PER_PARTITION", default=2_000)

    backend: Literal["software", "pkcs11"] = env("CBEC_SIGNER_BACKEND", default="software")
    key_pem: Path | None = env("CBEC_SIGNER_KEY_PEM")
    cert_pem: Path | None = env("CBEC_SIGNER_CERT_PEM")
    key_password: SecretStr | None = env("CBEC_SIGNER_KEY_PASSWORD")
    tenant: str | None = env("CBEC_SIGNER_TENANT")  # customs code the key signs for; default: cert subject OU
    tenants_file: Path | None = env("CBEC_SIGNER_TENANTS_FILE")  # more tenants (see signer_service.backends)
    profile: str = env("CBEC_SIGNER_PROFILE", default="spec-2022")
    pool_size: int = env("CBEC_SIGNER_POOL_SIZE", default=1)

    pkcs11_module: str = env("CBEC_PKCS11_MODULE", default="/usr/lib/softhsm/libsofthsm2.so")
    pkcs11_token_label: str = env("CBEC_PKCS11_TOKEN_LABEL", default="cbec-signer")
    pkcs11_pin: SecretStr = env("CBEC_PKCS11_PIN", default=SecretStr(""))
    pkcs11_key_label: str = env("CBEC_PKCS11_KEY_LABEL", default="cbec-signer")
    pkcs11_algorithm: Literal["RSA", "SM2"] = env("CBEC_PKCS11_ALGORITHM", default="RSA")
    pkcs11_sm2_mechanism: int | None = env("CBEC_PKCS11_SM2_MECHANISM")
    pkcs11_sm2_input: Literal["message", "prehash"] = env("CBEC_PKCS11_SM2_INPUT", default="message")
    pkcs11_sm2_output: Literal["rs", "der"] = env("CBEC_PKCS11_SM2_OUTPUT", default="rs")

    # HTTP API (off unless CBEC_SIGNER_HTTP_PORT): per-caller tokens, each allowed a set of customs codes
    # (signer_service.clients); CBEC_SIGNER_TOKEN is the operator's token (per-tenant /metrics), it signs nothing.
    token: SecretStr | None = env("CBEC_SIGNER_TOKEN")
    clients_file: Path | None = env("CBEC_SIGNER_CLIENTS_FILE")
    clients: SecretStr | None = env("CBEC_SIGNER_CLIENTS")
    http_port: int | None = env("CBEC_SIGNER_HTTP_PORT")
    http_host: str = env("CBEC_SIGNER_HTTP_HOST", "CBEC_HTTP_HOST", default="0.0.0.0")  # noqa: S104 - as CBEC_HTTP_HOST


TransportKind = Literal["filedrop", "http", "amqp"]


class LinkSettings(Section):
    """The customs transport(s). ``CBEC_CUSTOMS_TRANSPORT`` (``filedrop``, ``http`` or ``amqp``) is the
    default one; unset, it is ``http`` when ``CBEC_CUSTOMS_GATEWAY_URL`` is set, else ``filedrop``.
    ``CBEC_CUSTOMS_TRANSPORTS`` routes tenants or regions elsewhere: ``prefix=kind`` pairs, comma-separated,
    where the prefix is a tenant's customs code or a shorter one for a region (``3105=amqp,4403960001=http``;
    the longest match wins). ``CBEC_CUSTOMS_GATEWAY_DXP_ID`` is the platform's own DXP id at the gateway.

    AMQP (``CBEC_CUSTOMS_AMQP_*``): the node's URL, its send exchange and queue, its receive exchange and
    queue (receipts recorded as rejected go to ``<receive queue>.quarantine``), whether cbec declares
    them (``DECLARE=0`` when the node's operator does), and an optional staging folder (else staging is in
    memory)."""

    transport: TransportKind | None = env("CBEC_CUSTOMS_TRANSPORT")
    transports: str = env("CBEC_CUSTOMS_TRANSPORTS", default="")
    gateway_url: str = env("CBEC_CUSTOMS_GATEWAY_URL", default="")
    gateway_dxp_id: str = env("CBEC_CUSTOMS_GATEWAY_DXP_ID", default="DXPENT0000000000")
    gateway_poll_every: float = env("CBEC_CUSTOMS_GATEWAY_POLL_EVERY", default=2.0)
    amqp_url: SecretStr | None = env("CBEC_CUSTOMS_AMQP_URL")
    amqp_send_exchange: str = env("CBEC_CUSTOMS_AMQP_SEND_EXCHANGE", default="cbec.dxp.send")
    amqp_send_queue: str = env("CBEC_CUSTOMS_AMQP_SEND_QUEUE", default="cbec.dxp.send")
    amqp_receive_exchange: str = env("CBEC_CUSTOMS_AMQP_RECEIVE_EXCHANGE", default="cbec.dxp.receive")
    amqp_receive_queue: str = env("CBEC_CUSTOMS_AMQP_RECEIVE_QUEUE", default="cbec.dxp.receive")
    amqp_declare: bool = env("CBEC_CUSTOMS_AMQP_DECLARE", default=True)
    amqp_staging: Path | None = env("CBEC_CUSTOMS_AMQP_STAGING")
    amqp_poll_every: float = env("CBEC_CUSTOMS_AMQP_POLL_EVERY", default=0.5)  # seconds an idle poller waits

    @model_validator(mode="after")
    def _routes_valid(self) -> LinkSettings:
        kinds = {self.default_kind, *self.routes().values()}
        if "http" in kinds and not self.gateway_url:
            raise ValueError("CBEC_CUSTOMS_GATEWAY_URL is required for the http customs transport")
        if "amqp" in kinds and self.amqp_url is None:
            raise ValueError("CBEC_CUSTOMS_AMQP_URL is required for the amqp customs transport")
        return self

    @property
    def default_kind(self) -> TransportKind:
        if self.transport is not None:
            return self.transport
        return "http" if self.gateway_url else "filedrop"

    def routes(self) -> dict[str, TransportKind]:
        """``CBEC_CUSTOMS_TRANSPORTS`` as customs-code prefix → transport kind."""
        out: dict[str, TransportKind] = {}
        for pair in filter(None, (p.strip() for p in self.transports.split(","))):
            prefix, _, kind = (x.strip() for x in pair.partition("="))
            if not prefix.isalnum() or len(prefix) > 10 or kind not in ("filedrop", "http", "amqp"):
                raise ValueError(f"CBEC_CUSTOMS_TRANSPORTS: {pair!r} is not <customs-code prefix>=filedrop|http|amqp")
            out[prefix] = kind  # type: ignore[assignment]  # checked just above
        return out


class DataOpenSettings(Section):
    """The 179 payment-data interface of platform tenants (``order_service.data_open``): where the
    signed data is uploaded, the platforms' signing keys (``CBEC_DATA_OPEN_KEYS_FILE``, a JSON list of
    ``{"customs_code", "key_pem", "cert_pem"}``), the signing-input form, retries and retention."""

    upload_url: str = env("CBEC_DATA_OPEN_UPLOAD_URL",
                          default="https://swapptest.singlewindow.cn/ceb2grab/grab/realTimeDataUpload")
    keys_file: Path | None = env("CBEC_DATA_OPEN_KEYS_FILE")
    key_password: SecretStr | None = env("CBEC_DATA_OPEN_KEY_PASSWORD")
    # "implementations": quoted JSON values, key payExchangeInfoLists (what working clients send);
    # "spec-sample": the 2018 spec's sample (unquoted objects, key payExchangeInfoList).
    signing_input: Literal["implementations", "spec-sample"] = env("CBEC_DATA_OPEN_SIGNING_INPUT",
                                                                    default="implementations")
    attempts: int = env("CBEC_DATA_OPEN_ATTEMPTS", default=4)  # POSTs per round (tenacity)
    backoff: float = env("CBEC_DATA_OPEN_BACKOFF", default=0.5)  # seconds before the 2nd POST; doubles
    timeout: float = env("CBEC_DATA_OPEN_TIMEOUT", default=5.0)  # seconds per POST
    give_up_after: float = env("CBEC_DATA_OPEN_GIVE_UP_AFTER", default=3600.0)  # seconds after the request
    retention_days: int = env("CBEC_DATA_OPEN_RETENTION_DAYS", default=3 * 366)  # ≥ 3 years (公告179)
    poll_every: float = env("CBEC_DATA_OPEN_POLL_EVERY", default=1.0)  # seconds an idle uploader waits


class ConsoleSettings(Section):
    """``cbec run console``, the web console (docs/console.md); it serves on ``CBEC_HTTP_PORT``."""

    session_secret: SecretStr | None = env("CBEC_CONSOLE_SESSION_SECRET")  # signs sessions; production needs it
    # JSON {customs code: API key}: the console calls the declaration APIs as each enterprise
    api_keys: SecretStr | None = env("CBEC_CONSOLE_API_KEYS")
    service_urls: str = env("CBEC_CONSOLE_SERVICE_URLS", default="")  # JSON {service: base URL}, production
    sandbox: Literal["embedded", "off"] = env("CBEC_CONSOLE_SANDBOX", default="embedded")  # development only
    database_url: SecretStr | None = env("CBEC_CONSOLE_DATABASE_URL")  # users; default CBEC_DATABASE_URL
    demo_users: bool = env("CBEC_CONSOLE_DEMO_USERS", default=False)  # development: a user per demo tenant
    # kafka: the operator view's faust agent reads the production platform's topics (docs/console.md)
    operator_stats: Literal["kafka", "off"] = env("CBEC_CONSOLE_OPERATOR_STATS", default="off")


class SimulatorSettings(Section):
    """``CBEC_SIMULATOR_*`` for ``cbec run simulator`` (delays in seconds, rates 0..1)."""

    delay: float = env("CBEC_SIMULATOR_DELAY", default=0.2)  # from status 2 to status 120
    first_delay: float = env("CBEC_SIMULATOR_FIRST_DELAY", default=0.0)
    conclude_delay: float = env("CBEC_SIMULATOR_CONCLUDE_DELAY", default=0.0)
    release_delay: float = env("CBEC_SIMULATOR_RELEASE_DELAY", default=0.0)
    inspection_delay: float = env("CBEC_SIMULATOR_INSPECTION_DELAY", default=0.0)
    close_delay: float | None = env("CBEC_SIMULATOR_CLOSE_DELAY")
    inspection_rate: float = env("CBEC_SIMULATOR_INSPECTION_RATE", default=0.0)
    rejection_rate: float = env("CBEC_SIMULATOR_REJECTION_RATE", default=0.0)
    lost_rate: float = env("CBEC_SIMULATOR_LOST_RATE", default=0.0)
    duplicate_rate: float = env("CBEC_SIMULATOR_DUPLICATE_RATE", default=0.0)
    seed: int = env("CBEC_SIMULATOR_SEED", default=7)
    journal: Path | None = env("CBEC_SIMULATOR_JOURNAL")
    verify: bool = env("CBEC_SIMULATOR_VERIFY", default=True)  # 0: skip XSD + signature checks (load runs)
    poll_every: float = env("CBEC_SIMULATOR_POLL_EVERY", default=0.5)  # seconds an idle simulator waits


class TelemetrySettings(Section):
    """Tracing (``cbec.telemetry``): the standard OpenTelemetry variables choose the exporter; the SDK
    itself reads the rest of them (``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT``,
    ``OTEL_RESOURCE_ATTRIBUTES`` …) from the environment."""

    otel_exporter: str = env("CBEC_OTEL_EXPORTER", default="")  # "console" prints finished trace spans
    otlp_endpoint: str = env("OTEL_EXPORTER_OTLP_ENDPOINT", default="")  # OTLP/HTTP: <endpoint>/v1/traces
    otlp_traces_endpoint: str = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")  # the full URL
    traces_exporter: str = env("OTEL_TRACES_EXPORTER", default="")  # otlp (the default with an endpoint), console, none
    service_name: str = env("OTEL_SERVICE_NAME", default="")  # default: cbec-<service>
    sdk_disabled: bool = env("OTEL_SDK_DISABLED", default=False)


_BARE = {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
         "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"}


def _tree_input(environ: Mapping[str, str]) -> dict[str, Any]:
    """The whole (cbec) environment for every section, which picks its own variables by alias."""
    ours = {k: v for k, v in environ.items() if k.startswith("CBEC_") or k in _BARE}
    out: dict[str, Any] = {name: ours for name in Settings.model_fields if name != "env"}
    if "CBEC_ENV" in ours:
        out["env"] = ours["CBEC_ENV"]
    return out


# Secrets that are not SecretStr fields; names whose <NAME>_FILE is a setting of its own (the API keys,
# the signer's clients) keep that meaning: their file holds JSON the service parses.
_MORE_SECRETS = {"CBEC_DATABASE_URL"}
_TENANT_SECRET_FILE = re.compile(rf"^{WEBHOOK_SECRET_PREFIX}(\w+)_FILE$")


class SecretFileError(SystemExit):
    """A secret's ``<NAME>_FILE`` could not be used; the message names the variables and the path."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"cbec: {problem}")

    def __str__(self) -> str:
        return str(self.code)


@functools.cache
def secret_names() -> frozenset[str]:
    """Every secret's variable name that also has a ``<NAME>_FILE`` form."""
    names: set[str] = set(_MORE_SECRETS)
    aliases: set[str] = set()
    for section in Settings.model_fields.values():
        model = section.annotation
        if not (isinstance(model, type) and issubclass(model, Section)):
            continue
        for field in model.model_fields.values():
            choices = field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else []
            flat = [c for c in choices if isinstance(c, str)]
            aliases.update(flat)
            if SecretStr in (field.annotation, *get_args(field.annotation)):
                names.update(flat)
    return frozenset(n for n in names if f"{n}_FILE" not in aliases)


def _read_secret(variable: str, path: str) -> str:
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SecretFileError(f"{variable}={path}: cannot read the secret file ({reason})") from None
    return content[:-1] if content.endswith("\n") else content


def with_secret_files(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with each secret's ``<NAME>_FILE`` replaced by ``<NAME>`` holding the file's content."""
    out = dict(environ)
    for variable, path in environ.items():
        tenant = _TENANT_SECRET_FILE.match(variable)
        name = variable[:-len("_FILE")]
        if not (tenant or (variable.endswith("_FILE") and name in secret_names())):
            continue
        del out[variable]
        if not path:
            continue
        if environ.get(name):
            raise SecretFileError(f"both {name} and {variable} are set: give the secret one way only")
        out[name] = _read_secret(variable, path)
    return out


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("cbec_settings_environ", default=None)


class _FlatEnvironment(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        given = _ENVIRON.get()
        return _tree_input(with_secret_files(os.environ if given is None else given))


class Settings(BaseSettings):
    """Everything a cbec process may be configured with. ``Settings()`` reads ``os.environ`` (once per
    process: the bootstrap passes the tree down); :meth:`from_environ` reads a given mapping instead (tests);
    keyword arguments replace whole sections."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    dxp: DxpSettings = Field(default_factory=DxpSettings)
    process: ProcessSettings = Field(default_factory=ProcessSettings)
    tenants: TenantsSettings = Field(default_factory=TenantsSettings)
    api_keys: ApiKeysSettings = Field(default_factory=ApiKeysSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    quota: QuotaLimits = Field(default_factory=QuotaLimits)
    declaration: DeclarationSettings = Field(default_factory=DeclarationSettings)
    intake_limits: IntakeLimitSettings = Field(default_factory=IntakeLimitSettings)
    saga: SagaSettings = Field(default_factory=SagaSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    signer: SignerSettings = Field(default_factory=SignerSettings)
    link: LinkSettings = Field(default_factory=LinkSettings)
    data_open: DataOpenSettings = Field(default_factory=DataOpenSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _FlatEnvironment(settings_cls)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings a process would read from ``environ`` (and nothing else)."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        finally:
            _ENVIRON.reset(token)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def migrates_at_start(self) -> bool:
        """Whether a service may change the database schema at start (never in production)."""
        return self.database.migrate == "auto" and not self.production

