"""Run one service as a process: consumer, outbox relays, pollers and an optional HTTP API, until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbec.bus.kafka import KafkaConsumerLoop
from cbec.store.outbox import OutboxRelay
from cbec.telemetry import configure_tracing

log = logging.getLogger(__name__)

Poller = Callable[[], int]


@dataclass
class ServiceProcess:
    """The loops of one service process; each runs in its own thread and stops on SIGTERM/SIGINT."""

    name: str
    consumers: list[KafkaConsumerLoop] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    pollers: list[Poller] = field(default_factory=list)
    http_app: Any = None
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    ready_file: Path | None = None
    poll_interval: float = 0.05
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        configure_tracing(self.name)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        threads = [threading.Thread(target=c.run_forever, args=(self.stop,), name=f"{self.name}-consumer",
                                    daemon=True) for c in self.consumers]
        threads += [threading.Thread(target=self._loop, args=(r.run_once, f"relay {r.name}"),
                                     name=f"{self.name}-relay", daemon=True) for r in self.relays]
        threads += [threading.Thread(target=self._loop, args=(p, "poller"), name=f"{self.name}-poller", daemon=True)
                    for p in self.pollers]
        server = self._http_server()
        if server is not None:
            threads.append(threading.Thread(target=server.run, name=f"{self.name}-http", daemon=True))
        for t in threads:
            t.start()
        log.info("%s: running (%d loops)", self.name, len(threads))
        print(f"cbec {self.name}: ready", flush=True)
        if self.ready_file is not None:  # container readiness probes look for it
            self.ready_file.write_text(self.name, encoding="utf-8")
        self.stop.wait()
        log.info("%s: stopping", self.name)
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        if server is not None:
            server.should_exit = True
        for t in threads:
            t.join(timeout=10)
        for c in self.consumers:
            c.close()

    def _loop(self, step: Callable[[], int], what: str) -> None:
        while not self.stop.is_set():
            try:
                if not step():
                    self.stop.wait(self.poll_interval)
            except Exception as error:  # noqa: BLE001 - a failed round is retried, never fatal
                log.warning("%s: %s failed (%s); retrying", self.name, what, type(error).__name__)
                self.stop.wait(1.0)

    def _http_server(self) -> Any:
        if self.http_app is None or not self.http_port:
            return None
        import uvicorn

        config = uvicorn.Config(self.http_app, host=self.http_host, port=self.http_port, log_level="warning")
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        return server
