"""The soak's figures and verdicts: releases and service CPU per window (a minute by default), judged
first full window against the last; and the customs link's restart after a few clearances against
its restart after many.

Pure functions over what the run recorded (``Checkpoint``s, ``RestartTiming``s), so the verdicts are
unit-tested apart from the stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE = 0.10  # ±10 %: the bound for "flat"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The run's counters at one moment: releases so far, the services' CPU seconds so far."""

    at: float  # seconds since the offered load began
    released: int
    service_cpu: float  # seconds, every service and replica together (the simulator and servers apart)
    load: float  # 1-minute load average of the box


@dataclass(frozen=True, slots=True)
class Window:
    """What happened between two checkpoints."""

    index: int
    start: float
    seconds: float
    released: int
    service_cpu: float
    load: float  # at the window's end
    full: bool  # the offered load ran through all of it, after the pipeline had filled

    @property
    def per_minute(self) -> float:
        return 60.0 * self.released / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_clearance(self) -> float | None:
        return 1000.0 * self.service_cpu / self.released if self.released else None


def windows(checkpoints: Sequence[Checkpoint], offered_until: float, *, slack: float = 1.0) -> list[Window]:
    """The windows between consecutive checkpoints (the first checkpoint is the start, ``at`` 0).

    A window is *full* when it ends no later than ``slack`` seconds after the offered load ended, and
    is not the first: in the first the pipeline fills (its releases lag the sends by the latency), and
    after the load ended only the tail drains.
    """
    out: list[Window] = []
    for i, (a, b) in enumerate(zip(checkpoints, checkpoints[1:], strict=False)):
        out.append(Window(i, a.at, b.at - a.at, b.released - a.released, b.service_cpu - a.service_cpu, b.load,
                          full=i > 0 and b.at <= offered_until + slack))
    return out


@dataclass(frozen=True, slots=True)
class Change:
    """One figure, first full window against the last."""

    name: str
    first: float
    last: float
    unit: str

    @property
    def relative(self) -> float:
        return self.last / self.first - 1.0 if self.first else float("inf")

    def within(self, tolerance: float) -> bool:
        return abs(self.relative) <= tolerance + 1e-9  # inclusive, whatever the float rounding

    def __str__(self) -> str:
        return f"{self.name} {self.first:.1f} → {self.last:.1f}{self.unit} ({100 * self.relative:+.1f} %)"


@dataclass(frozen=True, slots=True)
class SoakVerdict:
    """Flat when every change is within ±``tolerance``; ``None`` changes: too few full windows to judge."""

    changes: tuple[Change, ...] | None
    tolerance: float
    first: int = -1  # window indexes compared
    last: int = -1
    full: int = 0

    @property
    def judged(self) -> bool:
        return self.changes is not None

    @property
    def flat(self) -> bool:
        return self.changes is not None and all(c.within(self.tolerance) for c in self.changes)

    def line(self) -> str:
        bound = f"±{100 * self.tolerance:.0f} %"
        if self.changes is None:
            return (f"soak verdict: NOT JUDGED, {self.full} full window(s): two are needed "
                    f"(a longer --minutes, or a shorter --checkpoint-every)")
        word = "FLAT" if self.flat else "NOT FLAT"
        return (f"soak verdict: {word} within {bound}, window {self.first + 1} against window {self.last + 1}: "
                + "; ".join(str(c) for c in self.changes))


def soak_verdict(found: Sequence[Window], tolerance: float = TOLERANCE) -> SoakVerdict:
    """The first full window against the last: releases per minute and service CPU per clearance."""
    full = [w for w in found if w.full]
    if len(full) < 2:
        return SoakVerdict(None, tolerance, full=len(full))
    first, last = full[0], full[-1]
    changes = [Change("releases/min", first.per_minute, last.per_minute, "")]
    a, b = first.cpu_ms_per_clearance, last.cpu_ms_per_clearance
    if a is not None and b is not None:
        changes.append(Change("service CPU per clearance", a, b, " ms"))
    return SoakVerdict(tuple(changes), tolerance, first.index, last.index, len(full))


def window_lines(found: Sequence[Window]) -> list[str]:
    """The per-window table the benchmark prints (``*``: a full window, the ones the verdict compares)."""
    out = ["  window      from  released  per minute  service CPU/clearance  load"]
    for w in found:
        cpu = f"{w.cpu_ms_per_clearance:8.1f} ms" if w.cpu_ms_per_clearance is not None else "       – ms"
        out.append(f"  {w.index + 1:>5}{'*' if w.full else ' '} {w.start:7.0f} s  {w.released:8d}  "
                   f"{w.per_minute:10.1f}  {cpu:>21}  {w.load:4.1f}")
    return out


@dataclass(frozen=True, slots=True)
class RestartTiming:
    """One kill -9 and start of a service, measured on a quiet platform."""

    service: str
    after: int  # clearances released before it
    ready_seconds: float  # from the start of the new process until it was ready (its ready file)
    cpu_to_ready: float  # CPU seconds the new process used until ready
    cpu_settled: float  # ... until ``settle`` seconds after ready (start-up work done after readiness)
    settle: float

    def line(self) -> str:
        return (f"  after {self.after:>7} clearances: ready in {self.ready_seconds:5.1f} s; CPU to ready "
                f"{self.cpu_to_ready:.2f} s, {self.settle:.0f} s later {self.cpu_settled:.2f} s")


@dataclass(frozen=True, slots=True)
class RestartVerdict:
    early: RestartTiming
    late: RestartTiming
    tolerance: float

    @property
    def wall_ratio(self) -> float:
        return self.late.ready_seconds / self.early.ready_seconds if self.early.ready_seconds > 0 else float("inf")

    @property
    def cpu_ratio(self) -> float:
        return self.late.cpu_settled / self.early.cpu_settled if self.early.cpu_settled > 0 else float("inf")

    @property
    def ok(self) -> bool:
        """The late start costs no more CPU than the early one, within the tolerance (faster is fine).

        The CPU, not the wall time, is judged: a kill -9 leaves the dead member in its consumer group
        until its session times out, and the new one's readiness (it joined the group) waits for that,
        whatever the platform's age."""
        return self.cpu_ratio <= 1.0 + self.tolerance

    def line(self) -> str:
        word = "AS FAST" if self.ok else "SLOWER"
        return (f"restart verdict: {word} (CPU to ready + settle, at most +{100 * self.tolerance:.0f} %): after "
                f"{self.late.after} clearances / after {self.early.after}: CPU {self.cpu_ratio:.2f}×, "
                f"wall {self.wall_ratio:.2f}× ({self.late.ready_seconds:.1f} s / {self.early.ready_seconds:.1f} s)")


__all__ = ["TOLERANCE", "Change", "Checkpoint", "RestartTiming", "RestartVerdict", "SoakVerdict", "Window",
           "soak_verdict", "window_lines", "windows"]
