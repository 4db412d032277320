"""``cbec run <name>`` processes of one load run: replicas, readiness, kill -9, restart, supervision.

A replica is named ``order``, ``order#2`` …; each has its own log and ready file in ``<run>/services``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga")
SCALABLE = frozenset(SERVICES)  # every declaration service, the signer, the customs link and the saga
SIMULATOR = "simulator"


class ProcessError(RuntimeError):
    """A process exited or stayed unready at start."""


def service_of(replica: str) -> str:
    return replica.split("#")[0]


@dataclass
class Replica:
    name: str
    log: Path
    ready_file: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    crashes: list[int] = field(default_factory=list)  # exit codes of lives that ended on their own

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


class Processes:
    """The run's processes; ``supervise()`` restarts any that exits on its own, as an orchestrator would."""

    def __init__(self, env: Mapping[str, str], folder: Path) -> None:
        self.env, self.folder = dict(env), folder
        folder.mkdir(parents=True, exist_ok=True)
        self.replicas: dict[str, Replica] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def add(self, service: str, count: int = 1) -> list[str]:
        names = [service if i == 0 else f"{service}#{i + 1}" for i in range(count)]
        for name in names:
            stem = name.replace("#", "-")
            self.replicas[name] = Replica(name, self.folder / f"{stem}.log", self.folder / f"{stem}.ready")
        return names

    def spawn(self, name: str) -> None:
        replica = self.replicas[name]
        with self._lock:
            replica.ready_file.unlink(missing_ok=True)
            env = {**self.env, "CBEC_READY_FILE": str(replica.ready_file), "CBEC_SERVICE_NAME": service_of(name)}
            with replica.log.open("ab") as log:
                log.write(f"--- start {replica.starts + 1} at {time.strftime('%H:%M:%S')}\n".encode())
                log.flush()
                replica.proc = subprocess.Popen(
                    [sys.executable, "-m", "cbec_cli.main", "run", service_of(name)], env=env, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            replica.starts += 1

    def wait_ready(self, names: list[str], timeout: float = 180, *, retries: int = 2) -> None:
        """Until each is ready; one that exits at start (e.g. its topics not ready on a loaded broker) is
        started again up to ``retries`` times, as an orchestrator would, and the exit is recorded."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                replica = self.replicas[name]
                if replica.ready_file.exists() or self._logged_ready(name):
                    pending.remove(name)
                elif replica.proc is None or replica.proc.poll() is not None:
                    code = replica.proc.returncode if replica.proc is not None else None
                    if replica.proc is None or len(replica.crashes) >= retries or self._stop.is_set():
                        raise ProcessError(f"{name} exited at start:\n{self.tail(name)}")
                    replica.crashes.append(code if code is not None else -1)
                    self.spawn(name)
            if pending and time.monotonic() > deadline:
                raise ProcessError(f"not ready after {timeout:.0f} s: {', '.join(pending)}\n"
                                   + "\n".join(self.tail(n) for n in pending))
            time.sleep(0.1)

    def _logged_ready(self, name: str) -> bool:
        """The other readiness signal: `cbec <service>: ready` printed in this life's log."""
        log = self.replicas[name].log
        text = log.read_text(errors="replace") if log.exists() else ""
        return f"cbec {service_of(name)}: ready" in text.rsplit("--- start ", 1)[-1]

    def start_all(self, timeout: float = 180) -> None:
        names = list(self.replicas)
        for name in names:
            self.spawn(name)
        self.wait_ready(names, timeout)

    def kill(self, name: str) -> None:
        """kill -9, and reap it."""
        with self._lock:
            replica = self.replicas[name]
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGKILL)
                replica.proc.wait(timeout=30)
            replica.ready_file.unlink(missing_ok=True)

    def restart(self, name: str, *, hard: bool = True, timeout: float = 180) -> None:
        """kill -9 (or SIGTERM with ``hard=False``) and start again; returns once it is ready."""
        if hard:
            self.kill(name)
        else:
            self.terminate(name)
        self.spawn(name)
        self.wait_ready([name], timeout)

    def terminate(self, name: str, timeout: float = 30) -> int | None:
        with self._lock:
            replica = self.replicas[name]
            if replica.proc is None or replica.proc.poll() is not None:
                return replica.proc.returncode if replica.proc is not None else None
            replica.proc.send_signal(signal.SIGTERM)
            try:
                return replica.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(timeout=10)
                return None

    def supervise(self, interval: float = 1.0) -> None:
        """Restarts, in the background, any process that exits on its own (recording its exit code)."""
        def loop() -> None:
            while not self._stop.wait(interval):
                for name, replica in list(self.replicas.items()):
                    with self._lock:
                        code = replica.proc.poll() if replica.proc is not None else None
                        if code is None or self._stop.is_set():
                            continue
                        replica.crashes.append(code)
                        self.spawn(name)

        self._supervisor = threading.Thread(target=loop, name="supervisor", daemon=True)
        self._supervisor.start()

    def pids(self) -> list[tuple[str, int]]:
        return [(service_of(name), pid) for name, r in self.replicas.items() if (pid := r.pid) is not None]

    def crashes(self) -> dict[str, list[int]]:
        return {name: r.crashes for name, r in self.replicas.items() if r.crashes}

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM to all (simulator last), then wait; returns each exit code."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        order = sorted(self.replicas, key=lambda n: service_of(n) == SIMULATOR)
        with self._lock:  # the supervisor checks the stop flag under this lock before it starts anything
            for name in order:
                proc = self.replicas[name].proc
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name in order:
            proc = self.replicas[name].proc
            if proc is None:
                continue
            try:
                codes[name] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                codes[name] = None
        return codes

    def tail(self, name: str, chars: int = 2000) -> str:
        log = self.replicas[name].log
        text = log.read_text(errors="replace") if log.exists() else ""
        return f"--- {name} ({log})\n{text[-chars:]}"

    def grep(self, needle: str) -> list[str]:
        """Log lines of every process that contain ``needle``."""
        found = []
        for name, replica in self.replicas.items():
            if replica.log.exists():
                found += [f"{name}: {line}" for line in replica.log.read_text(errors="replace").splitlines()
                          if needle in line]
        return found
