"""CPU seconds of processes from ``/proc/<pid>/stat`` (user + system), sampled while they run.

A process killed between two samples keeps the CPU of its last sample: the sampler remembers every
pid it saw, so a service restarted ten times is charged for all ten lives (up to one interval each).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class StatCpu:
    """The CPU fields of one ``/proc/<pid>/stat`` line, in clock ticks."""

    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def own(self) -> int:
        return self.utime + self.stime

    @property
    def reaped_children(self) -> int:
        return self.cutime + self.cstime


def parse_stat(line: str) -> StatCpu:
    """Fields 4 (ppid) and 14–17 of ``proc(5)``; the command name may hold spaces and parentheses."""
    rest = line[line.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): field n is rest[n - 3]
    return StatCpu(ppid=int(rest[1]), utime=int(rest[11]), stime=int(rest[12]), cutime=int(rest[13]),
                   cstime=int(rest[14]))


def read_stat(pid: int, proc: Path = Path("/proc")) -> StatCpu | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def children_of(pid: int, proc: Path = Path("/proc")) -> list[int]:
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name), proc)
            if stat is not None and stat.ppid == pid:
                found.append(int(entry.name))
    return found


def tree_ticks(pid: int, proc: Path = Path("/proc")) -> int | None:
    """A server and its worker processes (Postgres backends): its own ticks, its reaped children's
    and its live children's; None once it is gone."""
    stat = read_stat(pid, proc)
    if stat is None:
        return None
    live = sum(s.own for c in children_of(pid, proc) if (s := read_stat(c, proc)) is not None)
    return stat.own + stat.reaped_children + live


class CpuSampler:
    """Samples named processes every ``interval`` seconds; ``seconds()`` is CPU used since ``start()``.

    ``pids()`` says which pids belong to which name right now (services are restarted, replicas
    come and go); ``trees`` names the ones counted with their children (Postgres).
    """

    def __init__(self, pids: Callable[[], Iterable[tuple[str, int]]], *, trees: frozenset[str] = frozenset(),
                 interval: float = 1.0, proc: Path = Path("/proc")) -> None:
        self._pids, self._trees, self._interval, self._proc = pids, trees, interval, proc
        self._first: dict[tuple[str, int], int] = {}
        self._last: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        for name, pid in list(self._pids()):
            ticks = tree_ticks(pid, self._proc) if name in self._trees else (
                s.own if (s := read_stat(pid, self._proc)) is not None else None)
            if ticks is None:
                continue
            with self._lock:
                # a process first seen after the start began at zero; one seen at start() began where it was
                self._first.setdefault((name, pid), ticks if self._thread is None else 0)
                self._last[(name, pid)] = ticks

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def seconds(self) -> dict[str, float]:
        """CPU seconds per name since ``start()`` (replicas and restarts of a name added up)."""
        out: dict[str, float] = {}
        with self._lock:
            for key, last in self._last.items():
                out[key[0]] = out.get(key[0], 0.0) + (last - self._first[key]) / TICKS
        return out
