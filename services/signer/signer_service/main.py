"""Entry point: ``cbec run signer`` → :func:`run`."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from signer_service.application import SignerApp
from signer_service.backends import build_registry
from signer_service.settings import SignerSettings
from signer_service.worker import SignerWorker, WorkerConfig

log = logging.getLogger(__name__)


def build_app(settings: SignerSettings) -> SignerApp:
    registry, pools = build_registry(settings)
    return SignerApp(registry, pools, threads=settings.signer_threads, cache_size=settings.signer_cache_size)


def _serve_http(app: SignerApp, settings: SignerSettings) -> threading.Thread:
    import uvicorn

    from signer_service.api import create_app

    token = settings.signer_token.get_secret_value() if settings.signer_token else None
    config = uvicorn.Config(
        create_app(app, token),
        host=settings.signer_http_host,
        port=settings.signer_http_port or 8080,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="signer-http", daemon=True)
    thread.start()
    return thread


def run() -> None:
    """Start the Kafka worker (and the HTTP API when ``CBEC_SIGNER_HTTP_PORT`` is set) until SIGTERM."""
    logging.basicConfig(level=logging.INFO)
    settings = SignerSettings()
    app = build_app(settings)
    app.registry.log_expiry_warnings()
    if settings.signer_http_port:
        _serve_http(app, settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
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
    log.info("signer started: group %s, backend %s", settings.signer_group_id, settings.signer_backend)
    print("cbec signer: ready", flush=True)

    async def serve() -> None:
        async with worker:
            await worker.run(stop)

    try:
        asyncio.run(serve())
    finally:
        app.close()


if __name__ == "__main__":
    run()
