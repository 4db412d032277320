"""Entry point: ``cbec run signer`` → :func:`run` (the signer on the shared process runtime)."""

from __future__ import annotations

import asyncio
import logging
import threading

from cbec.logging_setup import configure_logging
from cbec.runtime import ServiceProcess
from cbec.settings import Settings
from cbec.telemetry import configure_tracing, exporter_for
from cbec.tenants import TenantRegistry

from signer_service import bootstrap
from signer_service.application import SignerApp
from signer_service.worker import SignerWorker

log = logging.getLogger(__name__)


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


def sessions_open(app: SignerApp) -> None:
    """The signer's readiness once running: every key pool holds at least one open session (read from the
    pools' figures, so a busy pool is not probed and a signer under load stays ready)."""
    closed = sorted(name for name, stats in app.pool_stats().items() if stats.connected == 0)
    if closed:
        raise RuntimeError(f"no open session to the key backend(s) of {len(closed)} tenant(s)")


def build_process(settings: Settings | None = None, tenants: TenantRegistry | None = None) -> ServiceProcess:
    """The signer's Kafka worker and optional HTTP API (``CBEC_SIGNER_HTTP_PORT``) as one process; without
    the API, ``CBEC_HTTP_PORT`` serves the probes and metrics alone."""
    settings = settings or Settings()
    configure_tracing(bootstrap.NAME, exporter_for(settings.telemetry), settings.telemetry)
    app = bootstrap.build_app(settings)
    bootstrap.check(settings, tenants, app)
    app.registry.log_expiry_warnings()
    worker = SignerWorker(app, bootstrap.worker_config(settings))
    own = settings.signer
    http_app = bootstrap.http_app(settings, app)
    log.info("signer: group %s, backend %s", own.group_id, own.backend)
    return ServiceProcess(
        "signer",
        consumers=[SignerLoop(worker)],
        http_app=http_app,
        http_port=own.http_port or settings.process.http_port,
        http_host=own.http_host,
        ready_file=settings.process.ready_file,
        health_check=lambda: signing_keys_answer(app),
        ready_check=lambda: sessions_open(app),
        on_close=[app.close],
        stall_after=settings.process.stall_after,
        heartbeats=[worker.heartbeat],
        extra_metrics=lambda: app.render_metrics(per_tenant=False).encode(),
        shutdown_timeout=settings.process.shutdown_timeout,
        close_timeout=settings.process.close_timeout,
    )


def run(settings: Settings | None = None, tenants: TenantRegistry | None = None) -> None:
    """Start the signer until SIGTERM."""
    if not logging.getLogger().handlers:  # started without `cbec run`
        configure_logging()
    build_process(settings, tenants).run()


if __name__ == "__main__":
    run()
