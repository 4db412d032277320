"""Inputs the hostile-input suite delivered in this run, by kind, kept in ``last-counts.json``.

Each hostile test calls :func:`record` with what it sent; the final test
(``test_zz_suite_totals.py``) checks the total against :data:`MINIMUM_TOTAL` and how far each
hostile test raised the process's resident memory against :data:`MEMORY_BOUND_BYTES`.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

FILE = Path(__file__).with_name("last-counts.json")
MINIMUM_TOTAL = 10_000
MEMORY_BOUND_BYTES = 1024 * 1024 * 1024  # 1 GiB: how far a hostile test may raise the process's resident set
KINDS = ("schemathesis", "kafka-poison", "xml-validate", "xml-inbox")

_counts: dict[str, dict[str, float]] = {}


def record(kind: str, part: str, inputs: int, seconds: float) -> None:
    """``inputs`` of ``kind`` (one of :data:`KINDS`) sent by ``part`` in ``seconds``; written at once."""
    assert kind in KINDS, kind
    _counts[f"{kind}/{part}"] = {"inputs": inputs, "seconds": round(seconds, 1)}
    peak_growth_bytes()  # the suite's peak includes this part's
    FILE.write_text(json.dumps(summary(), indent=2, sort_keys=True) + "\n")


def per_kind() -> dict[str, int]:
    totals = dict.fromkeys(KINDS, 0)
    for key, entry in _counts.items():
        totals[key.split("/", 1)[0]] += int(entry["inputs"])
    return totals


def reset_peak() -> None:
    """Measure from now: the resident set as it is (what earlier tests of the same pytest process left
    behind) and, on Linux, a fresh peak (writing 5 to ``clear_refs`` resets VmHWM), so a test's bound is
    on what its own inputs cost."""
    global _base
    _base = _rss_bytes()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux: the growth is measured against the process's peak (ru_maxrss), stricter
        pass


def peak_growth_bytes() -> int:
    """How far the resident set rose above where it stood at :func:`reset_peak`; kept as the suite's."""
    global _suite_peak
    peak = _hwm_bytes()
    if peak is None:
        rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = rusage if sys.platform == "darwin" else rusage * 1024
    growth = max(0, peak - _base)
    _suite_peak = max(_suite_peak, growth)
    return growth


def suite_peak_bytes() -> int:
    """The highest growth any hostile test of this run measured."""
    return _suite_peak


def _rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()
    except OSError:
        return 0


def _hwm_bytes() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


_suite_peak = 0
_base = 0


def summary() -> dict[str, object]:
    kinds = per_kind()
    return {"parts": _counts, "kinds": kinds, "total": sum(kinds.values()),
            "peak_growth_mib": suite_peak_bytes() // (1024 * 1024)}
