"""Entry point: ``cbec run signer`` → :func:`run`."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from cbec.settings import Settings
from cbec.tenants import TenantRegistry

from signer_service import bootstrap
from signer_service.application import SignerApp
from signer_service.worker import SignerWorker

log = logging.getLogger(__name__)


def _serve_http(app: SignerApp, settings: Settings) -> threading.Thread:
    import uvicorn

    from signer_service.api import create_app

    own = settings.signer
    token = own.token.get_secret_value() if own.token else None
    config = uvicorn.Config(
        create_app(app, token),
        host=own.http_host,
        port=own.http_port or 8080,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="signer-http", daemon=True)
    thread.start()
    return thread


def run(settings: Settings | None = None, tenants: TenantRegistry | None = None) -> None:
    """Start the Kafka worker (and the HTTP API when ``CBEC_SIGNER_HTTP_PORT`` is set) until SIGTERM."""
    logging.basicConfig(level=logging.INFO)
    settings = settings or Settings()
    app = bootstrap.build_app(settings)
    bootstrap.check(settings, tenants, app)
    app.registry.log_expiry_warnings()
    if settings.signer.http_port:
        _serve_http(app, settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = SignerWorker(app, bootstrap.worker_config(settings))
    log.info("signer started: group %s, backend %s", settings.signer.group_id, settings.signer.backend)
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
