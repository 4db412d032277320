"""Entry point: ``cbec run signer`` → :func:`run`."""

from __future__ import annotations

import asyncio
import logging
import threading

from cbec.logging_setup import configure_logging
from cbec.runtime import ServiceProcess
from cbec.settings import Settings

from signer_service.application import SignerApp
from signer_service.backends import build_registry
from signer_service.settings import SignerSettings
from signer_service.worker import SignerWorker, WorkerConfig

log = logging.getLogger(__name__)


def build_app(settings: SignerSettings) -> SignerApp:
    registry, pools = build_registry(settings)
    return SignerApp(registry, pools, threads=settings.signer_threads, cache_size=settings.signer_cache_size)


class SignerLoop:
    """The asyncio Kafka worker as one of the runtime's consumer loops (its own event loop, own thread)."""

    name = "signer"

    def __init__(self, worker: SignerWorker) -> None:
        self.worker = worker

    def run_forever(self, stop: threading.Event) -> None:
        async def serve() -> None:
            async with self.worker:
                await self.worker.run(stop)

        asyncio.run(serve())

    def joined(self) -> bool:
        return self.worker.joined()

    def close(self) -> None:
        """Nothing left to close: leaving ``run_forever`` stopped the worker's clients."""


def signing_keys_answer(app: SignerApp) -> None:
    """The signer's health check: every key backend has a working connection."""
    broken = sorted(name for name, healthy in app.health_check().items() if healthy == 0)
    if broken:
        raise RuntimeError(f"no working connection to the key backend(s) of {', '.join(broken)}")


def build_process(settings: SignerSettings | None = None) -> ServiceProcess:
    settings = settings or SignerSettings()
    app = build_app(settings)
    app.registry.log_expiry_warnings()
    worker = SignerWorker(
        app,
        WorkerConfig(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.signer_group_id,
            requests_topic=settings.signer_requests_topic,
            results_topic=settings.signer_results_topic,
            dlq_topic=settings.signer_dlq_topic,
            max_poll_records=settings.signer_batch_size,
            warm_cache_per_partition=settings.signer_warm_cache_per_partition,
        ),
    )
    http_app = None
    if settings.signer_http_port:
        from signer_service.api import create_app

        http_app = create_app(app, settings.signer_token.get_secret_value() if settings.signer_token else None)
    log.info("signer: group %s, backend %s", settings.signer_group_id, settings.signer_backend)
    return ServiceProcess(
        "signer",
        consumers=[SignerLoop(worker)],
        http_app=http_app,
        http_port=settings.signer_http_port,
        http_host=settings.signer_http_host,
        ready_file=Settings().ready_file,
        health_check=lambda: signing_keys_answer(app),
        on_close=[app.close],
    )


def run() -> None:
    """Start the Kafka worker (and the HTTP API when ``CBEC_SIGNER_HTTP_PORT`` is set) until SIGTERM."""
    if not logging.getLogger().handlers:  # started without `cbec run`
        configure_logging()
    build_process().run()


if __name__ == "__main__":
    run()
