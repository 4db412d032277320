"""Leases: at most one replica of a service runs a singleton loop (an outbox relay, a tick, a poller).

On Postgres a lease is a session-level advisory lock (``pg_try_advisory_lock``) held by a connection
of its own, kept by a daemon thread: the holder keeps it as long as that session lives; a standby
tries again every ``retry`` seconds and takes over once the holder's session ends (the process died,
its connection broke, or it closed the lease). The thread blocks on its connection's socket (and on
a pipe that ``close`` writes to), so it costs nothing while nothing happens, and a lost connection
(closed by the server, or found dead by TCP keepalives) is noticed at once: the lease reads as not
held. The library (eventsourcing) has no lease, and Postgres' own lock is the one every replica
already shares, hence this small module.

With ``listen``, the holder also LISTENs on its store's commit channel (see ``recorders``) and counts
the commits of other processes (``foreign_commits``), so a relay wakes for a replica's events too.

On SQLite (embedded, one process) :class:`SoleLease` is always held.

Use: ``lease = lease_for(store, "saga-tick")``; in the loop, ``if not lease.held(): return 0``; compare
``lease.generation`` to notice a new term (re-read any position cached from before); ``close()`` it
with the process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
from psycopg import sql

from cbec.store.event_store import EventStore
from cbec.store.recorders import commit_channel, connect_dedicated

log = logging.getLogger(__name__)


class Lease(Protocol):
    """Who of the replicas runs a singleton loop."""

    name: str

    def held(self) -> bool:
        """True while this process holds the lease (cheap: no round trip)."""
        ...

    @property
    def generation(self) -> int:
        """How many times this process took the lease: a new value is a new term."""
        ...

    @property
    def foreign_commits(self) -> int:
        """How many commits of other processes were announced while held (with ``listen``)."""
        ...

    def watch(self, wakeup: threading.Event) -> None:
        """Set ``wakeup`` whenever the lease is taken or lost, or another process commits."""
        ...

    def close(self) -> None: ...


class SoleLease:
    """The lease of a single-process deployment (SQLite): always held."""

    def __init__(self, name: str) -> None:
        self.name = name

    def held(self) -> bool:
        return True

    @property
    def generation(self) -> int:
        return 1

    @property
    def foreign_commits(self) -> int:
        return 0

    def watch(self, wakeup: threading.Event) -> None:
        pass

    def close(self) -> None:
        pass


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a lease name."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


class AdvisoryLease:
    """A Postgres advisory lock on a connection of its own; see the module docstring."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        name: str,
        *,
        retry: float = 5.0,
        listen: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self._connect = connect
        self._key = lock_key(name)
        self._retry = retry
        self._listen = listen
        self._bell_read, self._bell = os.pipe()  # written by ``close`` to end the thread's wait
        self._held = threading.Event()
        self._closed = threading.Event()
        self._generation = 0
        self._foreign = 0
        self._watchers: list[threading.Event] = []
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)
        self._thread.start()

    def held(self) -> bool:
        return self._held.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def foreign_commits(self) -> int:
        return self._foreign

    def watch(self, wakeup: threading.Event) -> None:
        self._watchers.append(wakeup)

    def wait_held(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the lease (for tests and tools)."""
        return self._held.wait(timeout)

    def close(self) -> None:
        """Stop keeping the lease; its session ends, so a standby can take it over."""
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._bell, b"x")
        self._thread.join(timeout=10.0)
        if not self._thread.is_alive():
            os.close(self._bell_read)
            os.close(self._bell)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                with self._connect() as conn:
                    self._keep(conn)
            except Exception as error:  # noqa: BLE001 - any failure of the session ends the term; retried
                if self._held.is_set():
                    log.warning("lease %s lost (%s: %s); taking it again when Postgres lets us", self.name,
                                type(error).__name__, error)
                else:
                    log.debug("lease %s: %s: %s", self.name, type(error).__name__, error)
            finally:
                lost = self._held.is_set()
                self._held.clear()
                if lost:
                    self._wake()
            self._closed.wait(self._retry)

    def _keep(self, conn: psycopg.Connection[Any]) -> None:
        next_try = 0.0
        while not self._closed.is_set():
            if not self._held.is_set() and time.monotonic() >= next_try:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                if row is not None and row[0]:
                    if self._listen is not None:  # before the new term starts: nothing falls in between
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._listen[0])))
                    self._generation += 1
                    self._held.set()
                    log.info("lease %s taken (term %d)", self.name, self._generation)
                    self._wake()
                else:
                    next_try = time.monotonic() + self._retry
            # What arrived (also during the queries above), without waiting; a closed connection raises.
            for note in conn.notifies(timeout=0):
                if self._listen is not None and note.payload != self._listen[1]:
                    self._foreign += 1
                    self._wake()
            wait = None if self._held.is_set() else max(0.0, next_try - time.monotonic())
            select.select([conn.fileno(), self._bell_read], [], [], wait)

    def _wake(self) -> None:
        for wakeup in self._watchers:
            wakeup.set()


def lease_for(store: EventStore, name: str, *, listen: bool = False, retry: float = 5.0) -> Lease:
    """The lease ``name`` among the processes sharing ``store``'s database (named within its schema);
    with ``listen``, the holder hears the store's commits by other processes. SQLite: :class:`SoleLease`."""
    channel = commit_channel(store.recorder)
    if channel is None:
        return SoleLease(name)
    schema = channel[0].split(".", 1)[0]
    return AdvisoryLease(lambda: connect_dedicated(store.recorder), f"{schema}.{name}", retry=retry,
                         listen=channel if listen else None)
