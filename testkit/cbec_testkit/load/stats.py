"""Percentiles of latencies (nearest rank: a reported p99 is a latency that really occurred)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``values``; NaN when there are none."""
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} not in (0, 1]")
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> str:
    """``p50 1.23 s  p99 4.56 s  (n=300)``; ``–`` when nothing was measured."""
    if not values:
        return "–"
    return f"p50 {percentile(values, 0.5):.2f} s  p99 {percentile(values, 0.99):.2f} s  (n={len(values)})"
