"""Run one service as a process: consumers, outbox relays, pollers and an optional HTTP API.

One runtime and one shutdown path for every service process:

* Each loop runs in a thread. A thread that raises (or returns before the process was asked to
  stop) is fatal: ``threading.excepthook`` logs it as one masked JSON line naming the thread and
  the error, the process runs the shutdown below and exits with :data:`EXIT_CRASHED`.
* Waiting: nothing busy-waits. A consumer blocks in its poll. An outbox relay is a :class:`Paced`
  round: it sleeps until its store commits (the event store's commit hook hands the events over in
  memory and sets its ``wakeup``), until another process's commit is announced (Postgres
  LISTEN/NOTIFY, heard by the relay's lease), or until its safety-net read of the log is due
  (seconds). A :class:`Paced` poller sleeps ``idle()`` seconds or until its ``wakeup`` is set; a
  plain poller sleeps ``poll_interval`` after a round that did nothing.
* Singleton loops under replicas: a relay publishes only while it holds its lease
  (``cbec.store.leases``, a Postgres advisory lock); the standby replica tries again now and then
  and takes over when the holder's session ends. :func:`leased` does the same for any poller.
* Relay and poller rounds may fail transiently: a failed round is logged (one warning line) and
  retried after a backoff that doubles from ``retry_backoff`` up to ``max_retry_backoff``; after
  ``max_round_failures`` consecutive failed rounds the error is fatal like any other (defaults:
  20 rounds, 0.5 s doubling to 15 s, so about four minutes of a dead database or broker).
* Readiness (``cbec <name>: ready`` on stdout and the ready file) is signalled once every consumer
  has joined its group (its first assignment arrived, possibly with no partitions), the HTTP
  server is listening and ``health_check`` (e.g. a trivial store query) returned.
* Probes (``cbec.health``): with ``http_port`` the process serves ``/livez``, ``/readyz`` and
  ``/metrics`` on it, on the service's own API (``http_app``) or on a small app of their own.
  ``/readyz`` is the readiness above, asked again (the health check at most once a second) until
  ``stop``; ``/livez`` fails after a crash, when a loop's thread is gone, or when a loop's current
  round (a consumer: its current message or batch) has been busy longer than ``stall_after``.
* SIGTERM/SIGINT set ``stop``: the ready file goes first (``/readyz`` answers 503), the loops take
  no new work: a consumer finishes and commits the batch it polled, a relay or poller its round;
  threads are joined within ``shutdown_timeout``, consumers, relays (their publishers) are closed,
  HTTP stops, ``on_close`` callbacks run; exit code 0. Whatever still hangs ``close_timeout``
  later is left behind (``os._exit``), so the process is gone within the sum of the two
  (``CBEC_SHUTDOWN_GRACE``).
  The ready file is also removed after a crash, and a stale one is removed when the process
  object is built and again when it starts.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from prometheus_client import REGISTRY
from prometheus_client.registry import Collector

from cbec.health import Cached, Heartbeat, Verdict, add_routes, probe_app
from cbec.logging_setup import configure_logging, log_uncaught
from cbec.metrics import exposition, loop_busy
from cbec.store.leases import Lease
from cbec.store.outbox import OutboxRelay
from cbec.telemetry import configure_tracing, flush_tracing

log = logging.getLogger(__name__)

Poller = Callable[[], int]
"""One round of work; returns how much it did (0: idle, wait ``poll_interval`` before the next)."""


@dataclass(frozen=True)
class Paced:
    """A poller that says how long it may sleep when idle, and can be woken early.

    ``idle()`` is the longest wait after a round that did nothing (e.g. the time to the next
    deadline); setting ``wakeup`` ends the wait at once (e.g. a new, earlier deadline). The runtime
    clears ``wakeup`` before each round, so a wake-up during a round leads to one more round.
    """

    step: Poller
    idle: Callable[[], float]
    wakeup: threading.Event | None = None

    def __call__(self) -> int:
        return self.step()


def leased(lease: Lease, poller: Poller | Paced, *, interval: float = 0.05, standby: float = 5.0) -> Paced:
    """``poller`` as a singleton loop among replicas: its rounds run only while ``lease`` is held
    (``cbec.store.leases.lease_for``). The standby sleeps ``standby`` seconds between looks and is
    woken when it takes the lease; the holder sleeps as the poller says (``idle()``, or ``interval``
    for a plain poller). Close the lease with the process (``ServiceProcess.on_close``)."""
    wakeup = poller.wakeup if isinstance(poller, Paced) and poller.wakeup is not None else threading.Event()
    lease.watch(wakeup)

    def step() -> int:
        return poller() if lease.held() else 0

    def idle() -> float:
        if not lease.held():
            return standby
        return poller.idle() if isinstance(poller, Paced) else interval

    step.__qualname__ = str(getattr(poller.step if isinstance(poller, Paced) else poller, "__qualname__", "leased"))
    return Paced(step, idle, wakeup)


EXIT_OK = 0
EXIT_CRASHED = 70  # EX_SOFTWARE (sysexits.h): a worker thread failed
# An uncaught exception in the main thread (a fatal start-up error) exits with Python's own 1.


class ConsumerLoop(Protocol):
    """A group consumer the runtime can run, wait for and close (``KafkaConsumerLoop`` is one)."""

    @property
    def name(self) -> str: ...

    def run_forever(self, stop: threading.Event) -> None: ...

    def joined(self) -> bool: ...

    def close(self) -> None: ...


@dataclass
class ServiceProcess:
    """The loops of one service process; see the module docstring for the lifecycle."""

    name: str
    consumers: Sequence[ConsumerLoop] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    pollers: list[Poller | Paced] = field(default_factory=list)
    http_app: Any = None
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    ready_file: Path | None = None
    poll_interval: float = 0.05
    stop: threading.Event = field(default_factory=threading.Event)
    health_check: Callable[[], object] | None = None
    ready_check: Callable[[], object] | None = None  # /readyz after start (default: ``health_check``)
    on_close: list[Callable[[], object]] = field(default_factory=list)
    max_round_failures: int = 20
    retry_backoff: float = 0.5
    max_retry_backoff: float = 15.0
    shutdown_timeout: float = 10.0
    close_timeout: float = 10.0
    tracing: bool = True
    heartbeats: list[Heartbeat] = field(default_factory=list)  # the consumers' (their handlers beat)
    stall_after: float = 300.0
    collectors: list[Collector] = field(default_factory=list)  # registered on the process registry while serving
    extra_metrics: Callable[[], bytes] | None = None  # appended to /metrics (e.g. the signer's figures)
    _crash: BaseException | None = field(default=None, init=False, repr=False)
    _crash_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False, repr=False)
    _server: Any = field(default=None, init=False, repr=False)
    _wakeups: list[threading.Event] = field(default_factory=list, init=False, repr=False)
    _beats: list[Heartbeat] = field(default_factory=list, init=False, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _http_thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _health_now: Cached | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._discard_ready_file()  # a restarted process never inherits its predecessor's signal

    def run(self) -> None:
        """Serve until stopped; on a crash exit the interpreter with :data:`EXIT_CRASHED`."""
        code = self.serve()
        if code != EXIT_OK:
            raise SystemExit(code)

    def serve(self) -> int:
        """Serve until SIGTERM/SIGINT (or ``stop``) or a crash; returns the exit code."""
        self._discard_ready_file()
        if not logging.getLogger().handlers:
            configure_logging()
        if self.tracing:
            configure_tracing(self.name)
        previous_hook = threading.excepthook
        threading.excepthook = self._thread_failed
        previous_signals = self._install_signal_handlers()
        collectors = [*self.collectors, loop_busy(lambda: [*self._beats, *self.heartbeats])]
        for collector in collectors:
            REGISTRY.register(collector)
        try:
            self._start_threads()
            log.info("%s: running (%d loops)", self.name, len(self._threads))
            if self._wait_until_ready():
                self._signal_ready()
            self.stop.wait()
            log.info("%s: stopping", self.name)
        finally:
            self._shutdown()
            for collector in collectors:
                REGISTRY.unregister(collector)
            for sig, handler in previous_signals.items():
                signal.signal(sig, handler)
            threading.excepthook = previous_hook
        return EXIT_CRASHED if self._crash is not None else EXIT_OK

    @property
    def crashed(self) -> BaseException | None:
        """The error that ended the process (None for a normal stop)."""
        return self._crash

    # -- threads ----------------------------------------------------------------------------------
    def _start_threads(self) -> None:
        for consumer in self.consumers:
            self._spawn(f"{self.name}-consumer-{consumer.name}", consumer.run_forever, self.stop)
        for relay in self.relays:
            paced = Paced(relay.step, relay.idle, relay.wakeup)
            self._wakeups.append(relay.wakeup)
            self._spawn(f"{self.name}-relay-{relay.name}", self._rounds, paced, f"relay {relay.name}",
                        self._beat(f"relay-{relay.name}"))
        for index, poller in enumerate(self.pollers):
            what = getattr(poller, "__qualname__", f"poller {index}")
            if isinstance(poller, Paced) and poller.wakeup is not None:
                self._wakeups.append(poller.wakeup)
                what = getattr(poller.step, "__qualname__", what)
            self._spawn(f"{self.name}-poller-{index}", self._rounds, poller, what, self._beat(f"poller-{index}"))
        self._server = self._http_server()
        if self._server is not None:
            self._http_thread = self._spawn(f"{self.name}-http", self._server.run)

    def _beat(self, name: str) -> Heartbeat:
        beat = Heartbeat(name)
        self._beats.append(beat)
        return beat

    def _spawn(self, name: str, target: Callable[..., object], *args: Any) -> threading.Thread:
        def supervised() -> None:
            target(*args)
            if not self.stop.is_set():
                raise RuntimeError(f"{name} ended before the process was stopped")

        thread = threading.Thread(target=supervised, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def _thread_failed(self, args: threading.ExceptHookArgs) -> None:
        error = args.exc_value
        if error is None:
            return
        thread = args.thread.name if args.thread is not None else "?"
        with self._crash_lock:
            first = self._crash is None
            if first:
                self._crash = error
        if first:
            log_uncaught(error, thread, what=f"{self.name}: fatal error", traceback=args.exc_traceback)
        else:  # a follow-on failure while stopping: one short line, the first error is the story
            log.warning("%s: thread %s also failed: %s", self.name, thread, type(error).__name__)
        self.stop.set()
        self._wake_all()

    def _wake_all(self) -> None:
        """End every paced wait (after ``stop`` is set)."""
        for wakeup in self._wakeups:
            wakeup.set()

    def _rounds(self, step: Poller | Paced, what: str, beat: Heartbeat) -> None:
        failures = 0
        while not self.stop.is_set():
            if isinstance(step, Paced) and step.wakeup is not None:
                step.wakeup.clear()
            try:
                with beat.busy():
                    worked = step()
            except Exception as error:
                failures += 1
                if failures >= self.max_round_failures:
                    raise
                pause = min(self.retry_backoff * 2 ** (failures - 1), self.max_retry_backoff)
                log.warning("%s: %s failed (%s: %s); retry %d/%d in %.1f s", self.name, what,
                            type(error).__name__, error, failures, self.max_round_failures - 1, pause)
                self.stop.wait(pause)
                continue
            failures = 0
            if not worked:
                self._idle(step)

    def _idle(self, step: Poller | Paced) -> None:
        if not isinstance(step, Paced):
            self.stop.wait(self.poll_interval)
            return
        pause = max(0.0, step.idle())
        if step.wakeup is None:
            self.stop.wait(pause)
            return
        if not self.stop.is_set():  # stopping sets every wakeup (``_wake_all``), so this waits for either
            step.wakeup.wait(pause)

    def _http_server(self) -> Any:
        if not self.http_port:
            return None
        import uvicorn
        from fastapi import FastAPI

        app = self.http_app
        if app is None:
            app = probe_app(self)
        elif isinstance(app, FastAPI):
            add_routes(app, self)
        # log_config=None: uvicorn logs through the root logger (JSON, masked), not its own handlers.
        config = uvicorn.Config(app, host=self.http_host, port=self.http_port, log_level="warning",
                                log_config=None)
        return uvicorn.Server(config)  # installs no signal handlers outside the main thread

    # -- readiness --------------------------------------------------------------------------------
    def _wait_until_ready(self) -> bool:
        """Block until ready (True) or stopped (False)."""
        unhealthy = 0
        while not self.stop.is_set():
            if all(c.joined() for c in self.consumers) and (self._server is None or self._server.started):
                if self._healthy():
                    return True
                unhealthy += 1
                self.stop.wait(min(0.25 * 2**unhealthy, 5.0))
            else:
                self.stop.wait(0.05)
        return False

    def _healthy(self, check: Callable[[], object] | None = None) -> bool:
        check = check or self.health_check
        if check is None:
            return True
        try:
            check()
        except Exception as error:  # noqa: BLE001 - not ready yet; asked again
            log.warning("%s: health check failed (%s: %s); asking again", self.name, type(error).__name__, error)
            return False
        return True

    # -- probes (cbec.health) ---------------------------------------------------------------------
    def live(self) -> Verdict:
        """Alive: no crash, every loop thread running, no round busy longer than ``stall_after``."""
        if self._crash is not None:
            return Verdict(False, "crashed")
        if not self.stop.is_set():
            gone = sorted(t.name for t in self._threads if not t.is_alive())
            if gone:
                return Verdict(False, f"loop ended: {', '.join(gone)}")
        stalled = sorted(b.name for b in (*self._beats, *self.heartbeats) if b.busy_for() > self.stall_after)
        if stalled:
            return Verdict(False, f"no progress for {self.stall_after:.0f} s: {', '.join(stalled)}")
        return Verdict(True)

    def ready(self) -> Verdict:
        """Ready: signalled ready (consumers joined, health check passed), not stopping, and the health
        check still passes (asked at most once a second)."""
        if self.stop.is_set():
            return Verdict(False, "stopping")
        if not self._ready.is_set():
            return Verdict(False, "starting")
        if not all(c.joined() for c in self.consumers):
            return Verdict(False, "consumers not joined")
        if self._health_now is None:
            check = self.ready_check or self.health_check
            self._health_now = Cached(lambda: Verdict(True) if self._healthy(check) else Verdict(False, "health check"))
        return self._health_now()

    def metrics(self) -> bytes:
        """The Prometheus text of the process registry (and ``extra_metrics``)."""
        return exposition() + (self.extra_metrics() if self.extra_metrics is not None else b"")

    def _signal_ready(self) -> None:
        self._ready.set()
        if self.ready_file is not None:  # container readiness probes look for it
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.ready_file.with_name(f".{self.ready_file.name}.{os.getpid()}")
            partial.write_text(self.name, encoding="utf-8")
            partial.replace(self.ready_file)
        print(f"cbec {self.name}: ready", flush=True)
        log.info("%s: ready", self.name)

    def _discard_ready_file(self) -> None:
        discard_ready_file(self.ready_file)

    # -- the one shutdown path --------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may install handlers; ``stop`` still works

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            self.stop.set()

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _shutdown(self) -> None:
        self.stop.set()
        self._wake_all()
        self._discard_ready_file()
        watchdog = threading.Timer(self.shutdown_timeout + self.close_timeout, self._give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            deadline = time.monotonic() + self.shutdown_timeout
            loops = [t for t in self._threads if t is not self._http_thread]  # probes answer while draining
            for thread in loops:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if self._server is not None:
                self._server.should_exit = True
            if self._http_thread is not None:
                self._http_thread.join(timeout=max(1.0, deadline - time.monotonic()))
            stuck = {t.name for t in self._threads if t.is_alive()}
            if stuck:
                log.warning("%s: threads still running after %.0f s: %s", self.name, self.shutdown_timeout,
                            ", ".join(sorted(stuck)))
            for consumer in self.consumers:
                if f"{self.name}-consumer-{consumer.name}" not in stuck:  # kafka clients are not thread-safe
                    self._close(consumer.close, f"consumer {consumer.name}")
            for relay in self.relays:
                if f"{self.name}-relay-{relay.name}" not in stuck:
                    self._close(relay.close, f"relay {relay.name}")
            for close in self.on_close:
                self._close(close, getattr(close, "__qualname__", "close"))
            self._close(lambda: flush_tracing(min(5.0, self.close_timeout / 2)), "tracing")
        finally:
            watchdog.cancel()
            self._discard_ready_file()
        log.info("%s: stopped%s", self.name, " after a fatal error" if self._crash is not None else "")

    def _close(self, close: Callable[[], object], what: str) -> None:
        try:
            close()
        except Exception as error:  # noqa: BLE001 - closing the rest matters more
            log.warning("%s: closing %s failed (%s: %s)", self.name, what, type(error).__name__, error)

    def _give_up(self) -> None:
        """Shutdown hangs (a stuck close): leave without waiting for it, with the code it would have had."""
        log.error("%s: shutdown did not finish in time; exiting", self.name)
        self._discard_ready_file()
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        os._exit(EXIT_CRASHED if self._crash is not None else EXIT_OK)


def discard_ready_file(path: Path | str | None) -> None:
    """Remove a ready file (a stale one at start, ours on exit); entry points call it before building."""
    if path:
        Path(path).unlink(missing_ok=True)
