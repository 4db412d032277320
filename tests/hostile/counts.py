"""Inputs the hostile-input suite delivered in this run, by kind, kept in ``last-counts.json``.

Each hostile test calls :func:`record` with what it sent; the final test
(``test_zz_suite_totals.py``) checks the total against :data:`MINIMUM_TOTAL` and the process's peak
memory against :data:`MEMORY_BOUND_BYTES`.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

FILE = Path(__file__).with_name("last-counts.json")
MINIMUM_TOTAL = 10_000
MEMORY_BOUND_BYTES = 1024 * 1024 * 1024  # 1 GiB peak RSS of the test process
KINDS = ("schemathesis", "kafka-poison", "xml-validate", "xml-inbox")

_counts: dict[str, dict[str, float]] = {}


def record(kind: str, part: str, inputs: int, seconds: float) -> None:
    """``inputs`` of ``kind`` (one of :data:`KINDS`) sent by ``part`` in ``seconds``; written at once."""
    assert kind in KINDS, kind
    _counts[f"{kind}/{part}"] = {"inputs": inputs, "seconds": round(seconds, 1)}
    FILE.write_text(json.dumps(summary(), indent=2, sort_keys=True) + "\n")


def per_kind() -> dict[str, int]:
    totals = dict.fromkeys(KINDS, 0)
    for key, entry in _counts.items():
        totals[key.split("/", 1)[0]] += int(entry["inputs"])
    return totals


def peak_rss_bytes() -> int:
    """The process's peak resident set so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def summary() -> dict[str, object]:
    kinds = per_kind()
    return {"parts": _counts, "kinds": kinds, "total": sum(kinds.values()),
            "peak_rss_mib": peak_rss_bytes() // (1024 * 1024)}
