"""The signer's metrics with ``prometheus_client``: counters and a latency histogram kept per signer, and
the key pools and certificate expiries read when rendered.

Exposed: ``cbec_signer_signs_total``, ``cbec_signer_duplicates_total``, ``cbec_signer_errors_total{kind}``,
``cbec_signer_sign_seconds`` (histogram), ``cbec_signer_signs_per_second`` (over the last ``window``
seconds), the key pools' use (``cbec_signer_pool_*``, by pool = tenant) and the certificates' time to
expiry (``cbec_signer_certificate_expiry_seconds{tenant}``, ``cbec_signer_certificate_days_to_expiry{tenant}``).
Without ``per_tenant`` the pool figures are summed and only the soonest expiry is shown
(``..._min``), so the text names no tenant.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from cbec import metrics as _process_metrics  # noqa: F401 - its settings (no *_created series) apply here too
from cbec.signing.pool import PoolStats
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_POOL_GAUGES = ("size", "connected", "in_use", "waiting")
_POOL_COUNTERS = ("reconnects", "failures")


class SignerMetrics:
    """One signer's figures, in a registry of its own (several signers may live in one test process)."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._signs = Counter("cbec_signer_signs", "Documents signed", registry=self.registry)
        self._duplicates = Counter("cbec_signer_duplicates", "Requests answered from the cache",
                                   registry=self.registry)
        self._errors = Counter("cbec_signer_errors", "Refused or failed requests by error code", ["kind"],
                               registry=self.registry)
        self._latency = Histogram("cbec_signer_sign_seconds", "Time to sign one document",
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self._lock = threading.Lock()
        self._clock = clock
        self._window = window
        self._recent: deque[float] = deque()
        self.registry.register(_Rate(self))

    @property
    def signs(self) -> int:
        return int(self.registry.get_sample_value("cbec_signer_signs_total") or 0)

    @property
    def duplicates(self) -> int:
        return int(self.registry.get_sample_value("cbec_signer_duplicates_total") or 0)

    @property
    def errors(self) -> dict[str, int]:
        """Errors so far by kind."""
        return {sample.labels["kind"]: int(sample.value) for family in self._errors.collect()
                for sample in family.samples if sample.name.endswith("_total")}

    def record_sign(self, seconds: float) -> None:
        self._signs.inc()
        self._latency.observe(seconds)
        now = self._clock()
        with self._lock:
            self._recent.append(now)
            self._trim(now)

    def record_error(self, kind: str) -> None:
        self._errors.labels(kind).inc()

    def record_duplicate(self) -> None:
        self._duplicates.inc()

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
        """Prometheus text; ``expiries`` maps a tenant to its certificate's seconds until expiry."""
        view = CollectorRegistry(auto_describe=True)
        view.register(_Registered(self.registry))
        view.register(_Pools(pools or {}, expiries or {}, per_tenant))
        return generate_latest(view).decode()


class _Registered(Collector):
    """Another registry's metrics (a registry cannot be registered in a second one as it is)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Rate(Collector):
    def __init__(self, metrics: SignerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("cbec_signer_signs_per_second", "Signs per second over the recent window",
                                value=self._metrics.signs_per_second())


class _Pools(Collector):
    """The key pools' figures and the certificates' expiries at the time of rendering."""

    def __init__(self, pools: Mapping[str, PoolStats], expiries: Mapping[str, float], per_tenant: bool) -> None:
        self._pools, self._expiries, self._per_tenant = pools, expiries, per_tenant

    def collect(self) -> Iterator[Metric]:
        labels = ["pool"] if self._per_tenant else []
        for name in _POOL_GAUGES:
            family = GaugeMetricFamily(f"cbec_signer_pool_{name}", f"Key pool sessions: {name}", labels=labels)
            self._add(family, name)
            yield family
        for name in _POOL_COUNTERS:
            counter = CounterMetricFamily(f"cbec_signer_pool_{name}", f"Key pool {name}", labels=labels)
            self._add(counter, name)
            yield counter
        yield from self._expiry()

    def _add(self, family: GaugeMetricFamily | CounterMetricFamily, field: str) -> None:
        if self._per_tenant:
            for pool, stats in sorted(self._pools.items()):
                family.add_metric([pool], getattr(stats, field))
        else:
            family.add_metric([], sum(getattr(s, field) for s in self._pools.values()))

    def _expiry(self) -> Iterator[Metric]:
        if not self._per_tenant:
            yield GaugeMetricFamily("cbec_signer_pools", "Key pools configured", value=len(self._pools))
            if self._expiries:
                soonest = min(self._expiries.values())
                yield GaugeMetricFamily("cbec_signer_certificate_expiry_seconds_min",
                                        "Seconds until the soonest certificate expiry", value=soonest)
                yield GaugeMetricFamily("cbec_signer_certificate_days_to_expiry_min",
                                        "Days until the soonest certificate expiry", value=soonest / 86400)
            return
        seconds = GaugeMetricFamily("cbec_signer_certificate_expiry_seconds",
                                    "Seconds until the tenant's certificate expires", labels=["tenant"])
        days = GaugeMetricFamily("cbec_signer_certificate_days_to_expiry",
                                 "Days until the tenant's certificate expires", labels=["tenant"])
        for code, left in sorted(self._expiries.items()):
            seconds.add_metric([code], left)
            days.add_metric([code], left / 86400)
        yield seconds
        yield days
