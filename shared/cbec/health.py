"""Probes and metrics over HTTP: ``GET /livez``, ``GET /readyz`` and ``GET /metrics`` on the process's
one port, added to the service's own API or served by a small app of their own.

* ``/livez`` is 200 while every loop makes progress: a loop's :class:`Heartbeat` is *busy* while a
  round (a relay's, a poller's) or a message (a consumer's handler) is being worked on, and *waiting*
  otherwise, so a loop that sleeps (a paced poller, a consumer blocked in its poll) is alive; a round
  busy for longer than the process's ``stall_after`` seconds makes the process not alive (503).
* ``/readyz`` is 200 once every consumer joined its group and the health check (the store answers; the
  signer: every key backend has a working session) passes, and until the process is asked to stop.
* ``/metrics`` is the Prometheus text of the process registry (``cbec.metrics``).

The answers name no tenant and carry no error text beyond its type. The routes are sync, so FastAPI runs
them in its thread pool and a slow health check never blocks the event loop of the service's API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST


class Heartbeat:
    """One loop's progress: since when its current unit of work runs (None: it waits for work)."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._since: float | None = None

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark the loop busy for the block (nested blocks keep the outer start)."""
        outer = self._since is None
        if outer:
            self._since = self._clock()
        try:
            yield
        finally:
            if outer:
                self._since = None

    def busy_for(self) -> float:
        """Seconds the current unit of work has run (0 while waiting)."""
        since = self._since
        return 0.0 if since is None else max(0.0, self._clock() - since)


@dataclass(frozen=True)
class Verdict:
    """A probe's answer: ok, and a short reason when not (no tenant, no error text)."""

    ok: bool
    reason: str = ""

    def response(self) -> JSONResponse:
        body: dict[str, object] = {"status": "ok" if self.ok else "failing"}
        if self.reason:
            body["reason"] = self.reason
        return JSONResponse(body, status_code=200 if self.ok else 503)


class Probes(Protocol):
    """What the routes ask (the process runtime answers)."""

    def live(self) -> Verdict: ...

    def ready(self) -> Verdict: ...

    def metrics(self) -> bytes: ...


def add_routes(app: FastAPI, probes: Probes) -> FastAPI:
    """``/livez``, ``/readyz`` and (unless the app serves its own) ``/metrics`` on ``app``; returns it."""
    taken = {getattr(route, "path", None) for route in app.router.routes}

    def livez() -> JSONResponse:
        return probes.live().response()

    def readyz() -> JSONResponse:
        return probes.ready().response()

    def metrics() -> Response:
        return Response(probes.metrics(), media_type=CONTENT_TYPE_LATEST)

    for path, endpoint in (("/livez", livez), ("/readyz", readyz), ("/metrics", metrics)):
        if path not in taken:
            app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
    return app


def probe_app(probes: Probes) -> FastAPI:
    """The routes alone, for a process without an HTTP API of its own."""
    return add_routes(FastAPI(title="cbec probes", openapi_url=None, docs_url=None, redoc_url=None), probes)


class Cached:
    """A check's last verdict for ``ttl`` seconds: probes in a burst ask the store once."""

    def __init__(self, check: Callable[[], Verdict], ttl: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._check, self._ttl, self._clock = check, ttl, clock
        self._lock = threading.Lock()
        self._last: tuple[float, Verdict] | None = None

    def __call__(self) -> Verdict:
        with self._lock:
            now = self._clock()
            if self._last is None or now - self._last[0] >= self._ttl:
                self._last = (now, self._check())
            return self._last[1]
