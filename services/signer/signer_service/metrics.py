"""In-process signer metrics, rendered in the Prometheus text format (no extra dependency).

Exposed: ``cbec_signer_signs_total``, ``cbec_signer_errors_total{kind}``, a sign-latency histogram,
``cbec_signer_signs_per_second`` (over the last ``window`` seconds) and the key pools' use.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping

from cbec.signing.pool import PoolStats

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class SignerMetrics:
    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._window = window
        self.signs = 0
        self.duplicates = 0
        self.errors: Counter[str] = Counter()
        self._bucket_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._recent: deque[float] = deque()

    def record_sign(self, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            self.signs += 1
            self._latency_sum += seconds
            self._bucket_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._recent.append(now)
            self._trim(now)

    def record_error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def record_duplicate(self) -> None:
        with self._lock:
            self.duplicates += 1

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0] < now - self._window:
            self._recent.popleft()

    def signs_per_second(self) -> float:
        now = self._clock()
        with self._lock:
            self._trim(now)
            return len(self._recent) / self._window

    def render(self, pools: Mapping[str, PoolStats] | None = None, expiries: Mapping[str, float] | None = None,
               *, per_tenant: bool = True) -> str:
        """Prometheus text; ``expiries`` maps a tenant to its certificate's seconds until expiry.

        Pools are named by tenant; without ``per_tenant`` their figures are summed and only the
        soonest certificate expiry is shown, so the text names no tenant."""
        rate = self.signs_per_second()
        with self._lock:
            lines = [
                "# TYPE cbec_signer_signs_total counter",
                f"cbec_signer_signs_total {self.signs}",
                "# TYPE cbec_signer_duplicates_total counter",
                f"cbec_signer_duplicates_total {self.duplicates}",
                "# TYPE cbec_signer_signs_per_second gauge",
                f"cbec_signer_signs_per_second {rate:.3f}",
                "# TYPE cbec_signer_errors_total counter",
            ]
            lines += [f'cbec_signer_errors_total{{kind="{k}"}} {n}' for k, n in sorted(self.errors.items())]
            lines.append("# TYPE cbec_signer_sign_seconds histogram")
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self._bucket_counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'cbec_signer_sign_seconds_bucket{{le="{le}"}} {cumulative}')
            lines.append(f"cbec_signer_sign_seconds_sum {self._latency_sum:.6f}")
            lines.append(f"cbec_signer_sign_seconds_count {cumulative}")
        if not per_tenant:
            return "\n".join(lines + _summed(pools or {}, expiries or {})) + "\n"
        for name, stats in sorted((pools or {}).items()):
            label = f'pool="{name}"'
            lines += [
                f"cbec_signer_pool_size{{{label}}} {stats.size}",
                f"cbec_signer_pool_connected{{{label}}} {stats.connected}",
                f"cbec_signer_pool_in_use{{{label}}} {stats.in_use}",
                f"cbec_signer_pool_waiting{{{label}}} {stats.waiting}",
                f"cbec_signer_pool_reconnects_total{{{label}}} {stats.reconnects}",
                f"cbec_signer_pool_failures_total{{{label}}} {stats.failures}",
            ]
        if expiries:
            lines.append("# TYPE cbec_signer_certificate_expiry_seconds gauge")
            lines += [
                f'cbec_signer_certificate_expiry_seconds{{tenant="{code}"}} {left:.0f}'
                for code, left in sorted(expiries.items())
            ]
        return "\n".join(lines) + "\n"


def _summed(pools: Mapping[str, PoolStats], expiries: Mapping[str, float]) -> list[str]:
    """The pool figures over every tenant, and the soonest certificate expiry (no tenant label)."""
    lines = [f"cbec_signer_pools {len(pools)}"]
    for field in ("size", "connected", "in_use", "waiting"):
        lines.append(f"cbec_signer_pool_{field} {sum(getattr(s, field) for s in pools.values())}")
    lines.append(f"cbec_signer_pool_reconnects_total {sum(s.reconnects for s in pools.values())}")
    lines.append(f"cbec_signer_pool_failures_total {sum(s.failures for s in pools.values())}")
    if expiries:
        lines.append("# TYPE cbec_signer_certificate_expiry_seconds_min gauge")
        lines.append(f"cbec_signer_certificate_expiry_seconds_min {min(expiries.values()):.0f}")
    return lines
