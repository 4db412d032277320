"""`cbec run signer`, the embedded demo and the tests build the signer here: the signer application
over the configured keys (files or PKCS#11) or over the keys they pass (software keys by tenant)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from cbec import production
from cbec.bus.poison import poison_letter
from cbec.bus.ports import Message, Publisher, Subscription
from cbec.bus.security import client_options
from cbec.contracts.signing import SignRequest
from cbec.privacy.cipher import AesGcmCipher
from cbec.service import Consumes, Service
from cbec.settings import Settings
from cbec.signing.keys import SigningKey
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.telemetry import consuming, current_headers
from cbec.tenants import TenantRegistry
from fastapi import FastAPI

from signer_service.application import BAD_REQUEST, SignerApp
from signer_service.backends import build_registry
from signer_service.clients import SignerClients
from signer_service.worker import OUTCOME_TOPICS, WorkerConfig, outcome_message

log = logging.getLogger(__name__)

NAME = "signer"


def build_app(settings: Settings, keys: Mapping[str, SigningKey] | None = None) -> SignerApp:
    """The signer over ``keys`` (by customs code) when given, else over the configured backend."""
    own = settings.signer
    if keys is None:
        registry, pools = build_registry(own)
    else:
        registry, pools = CertificateRegistry(), {}
        for code, key in keys.items():
            pools[code] = _software_pool(key, own.threads)
            registry.register(code, pools[code], own.profile)
    return SignerApp(registry, pools, threads=own.threads, cache_size=own.cache_size)


def _software_pool(key: SigningKey, threads: int) -> KeyPool:
    # A software key is thread-safe and stateless: one object serves every pool slot.
    return KeyPool(lambda: key, size=max(1, threads))


def clients(settings: Settings) -> SignerClients:
    """The HTTP API's callers: ``CBEC_SIGNER_CLIENTS_FILE``, else ``CBEC_SIGNER_CLIENTS``, else none."""
    own = settings.signer
    return SignerClients.load(own.clients_file, own.clients.get_secret_value() if own.clients else None)


def http_app(settings: Settings, app: SignerApp) -> FastAPI | None:
    """The HTTP API when ``CBEC_SIGNER_HTTP_PORT`` is set: per-caller tokens, the operator's for /metrics."""
    own = settings.signer
    if not own.http_port:
        return None
    from signer_service.api import create_app

    callers = clients(settings)
    if not len(callers):
        log.warning("signer: no HTTP clients configured (CBEC_SIGNER_CLIENTS_FILE); every /sign call is refused")
    return create_app(app, callers, own.token.get_secret_value() if own.token else None)


def check(settings: Settings, tenants: TenantRegistry | None, app: SignerApp) -> None:
    """In production: a tenant registry, a key for every tenant in it (each one declares), a secured
    Kafka connection, and callers with their own tokens when the HTTP API is on."""
    problems = (production.tenants_problems(settings) + production.kafka_problems(settings)
                + production.signer_http_problems(settings, len(clients(settings))))
    if tenants is not None:
        problems += production.signer_problems(tenants, (e.customs_code for e in app.registry.entries()))
    production.require(settings, problems)


def worker_config(settings: Settings) -> WorkerConfig:
    """The Kafka worker's configuration (the same Kafka address rule as every other service)."""
    own = settings.signer
    return WorkerConfig(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=own.group_id,
        requests_topic=own.requests_topic,
        results_topic=own.results_topic,
        dlq_topic=own.dlq_topic,
        max_poll_records=own.batch_size,
        poll_timeout_ms=int(settings.kafka.poll_timeout * 1000),
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        warm_cache_per_partition=own.warm_cache_per_partition,
        client_options=client_options(settings.kafka, "aiokafka"),
        max_message_bytes=settings.kafka.max_message_bytes,
        pii_keys=settings.pii.key_spec(),
        topic_partitions=settings.kafka.topic_partitions if settings.kafka.create_topics else None,
    )


def build(settings: Settings, app: SignerApp, publisher: Publisher) -> Service:
    """The signer on a bus other than Kafka (the embedded demo, tests): each request is signed and its
    result published, as :class:`~signer_service.worker.SignerWorker` does on Kafka."""
    own = settings.signer
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())

    def on_request(message: Message) -> None:
        # a span continuing the request's trace; its result and outcome carry it on (as the worker's do)
        with consuming(message.topic, message.partition, message.offset, message.headers):
            result = app.handle(SignRequest.from_json(message.value))
            traced = current_headers()
            publisher.publish(own.results_topic, result.clearance_key, result.to_json(), traced)
            outcome = outcome_message(result)
            if outcome is not None:
                publisher.publish(outcome[0], result.clearance_key, outcome[1], traced)

    def dead_letter(message: Message, error: BaseException) -> None:
        log.warning("signer: unreadable request %s@%d: %s", message.topic, message.offset, type(error).__name__)
        app.metrics.record_error(BAD_REQUEST)
        letter = poison_letter(message, error).sealed_with(cipher)
        publisher.publish(own.dlq_topic, letter.key, letter.to_json())

    return Service(NAME, app, consumes=[Consumes(Subscription((own.requests_topic,), own.group_id), on_request,
                                                 dead_letter=dead_letter)],
                   topics=[own.results_topic, own.dlq_topic, *OUTCOME_TOPICS])


def run(settings: Settings, tenants: TenantRegistry | None) -> None:
    """``cbec run signer``: the Kafka worker (and the HTTP API when ``CBEC_SIGNER_HTTP_PORT`` is set)."""
    from signer_service import main

    main.run(settings, tenants)
