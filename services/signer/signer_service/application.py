"""The signer's pure core: a batch of sign requests in, a batch of results out (no I/O).

Idempotent by ``request_id``: a bounded LRU of results answers repeats (in production the results
topic is the durable record; consumers dedupe by ``request_id`` too). Transient backend failures
(HSM unreachable, pool exhausted) are *not* cached, so a redelivered request is retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from cbec.contracts.signing import ContractError, SignRequest, SignResult
from cbec.signing.keys import BackendUnavailable
from cbec.signing.pool import KeyPool, PoolStats
from cbec.signing.registry import CertificateRegistry
from cbec.signing.xmldsig import SELF_CHECK, SigningError, VerifyResult, parse, verify_document

from signer_service.metrics import SignerMetrics

log = logging.getLogger(__name__)

BACKEND_UNAVAILABLE = "CBEC-SIG-BACKEND"
BAD_REQUEST = "CBEC-SIG-REQUEST"
INTERNAL = "CBEC-SIG-INTERNAL"


class ResultCache:
    """Bounded LRU of results by request id."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, SignResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request_id: str) -> SignResult | None:
        with self._lock:
            result = self._items.get(request_id)
            if result is not None:
                self._items.move_to_end(request_id)
            return result

    def put(self, result: SignResult) -> None:
        with self._lock:
            self._items[result.request_id] = result
            self._items.move_to_end(result.request_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class SignerApp:
    """Signs CEB documents for registered tenants; ``threads > 1`` signs a batch concurrently.

    The cache holds whole signed documents (~10 KB each), so ``cache_size`` bounds memory too.
    """

    def __init__(
        self,
        registry: CertificateRegistry,
        backends: Mapping[str, KeyPool] | None = None,
        *,
        cache_size: int = 10_000,
        threads: int = 1,
        metrics: SignerMetrics | None = None,
    ) -> None:
        self.registry = registry
        self.backends = dict(backends or {})
        self.metrics = metrics or SignerMetrics()
        self._cache = ResultCache(cache_size)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sign") if threads > 1 else None

    def handle_batch(self, requests: list[SignRequest], *, at: datetime | None = None) -> list[SignResult]:
        """One result per request, in order; repeats of a request id get the same result."""
        fresh: dict[str, SignRequest] = {}
        for request in requests:
            if request.request_id not in fresh and self._cache.get(request.request_id) is None:
                fresh[request.request_id] = request
        todo = list(fresh.values())
        if self._executor is not None and len(todo) > 1:
            done = list(self._executor.map(lambda r: self._sign(r, at), todo))
        else:
            done = [self._sign(r, at) for r in todo]
        produced = {r.request_id: r for r in done}
        out = []
        for request in requests:
            result = produced.pop(request.request_id, None)
            if result is None:
                cached = self._cache.get(request.request_id)
                result = cached if cached is not None else self._sign(request, at)
                self.metrics.record_duplicate()
            out.append(result)
        return out

    def remember(self, result: SignResult) -> None:
        """Seed the idempotency cache with a result already published (e.g. read back from the topic)."""
        if result.ok or (result.error is not None and result.error.code != BACKEND_UNAVAILABLE):
            self._cache.put(result)

    def handle(self, request: SignRequest, *, at: datetime | None = None) -> SignResult:
        return self.handle_batch([request], at=at)[0]

    def _sign(self, request: SignRequest, at: datetime | None) -> SignResult:
        started = time.perf_counter()
        try:
            tree = parse(request.xml())
            signed = self.registry.sign_tree(request.tenant, tree, profile=request.profile, at=at)
        except BackendUnavailable as exc:
            self.metrics.record_error(BACKEND_UNAVAILABLE)
            return SignResult.failure(request, BACKEND_UNAVAILABLE, str(exc))  # not cached: retryable
        except SigningError as exc:
            if exc.code == SELF_CHECK:  # our own output failed verification: a bug or a faulty key backend
                log.error("signer: request %s: %s", request.request_id, exc)
            result = SignResult.failure(request, exc.code, str(exc))
            self.metrics.record_error(exc.code)
        except (ContractError, ValueError) as exc:
            result = SignResult.failure(request, BAD_REQUEST, str(exc))
            self.metrics.record_error(BAD_REQUEST)
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the batch or the worker
            log.exception("signer: unexpected failure signing request %s", request.request_id)
            self.metrics.record_error(INTERNAL)
            return SignResult.failure(request, INTERNAL, f"internal error: {type(exc).__name__}")  # not cached
        else:
            result = SignResult.success(request, signed)
            self.metrics.record_sign(time.perf_counter() - started)
        self._cache.put(result)
        return result

    def verify(self, xml: bytes, profile: str | None = None, *, registered_only: bool = False) -> VerifyResult:
        """Verify with the embedded certificate; ``registered_only`` also requires a registered one."""
        trusted = {e.key.certificate_der for e in self.registry.entries()} if registered_only else None
        return verify_document(xml, profile=profile, trusted=trusted)

    def certificate_expiries(self, at: datetime | None = None) -> dict[str, float]:
        """Seconds until each tenant's certificate expires (negative when already expired)."""
        when = at or datetime.now(UTC)
        return {e.customs_code: (e.expires_at - when).total_seconds() for e in self.registry.entries()}

    def render_metrics(self, *, per_tenant: bool = True) -> str:
        """Prometheus text; without ``per_tenant`` nothing names a tenant (figures summed over them)."""
        return self.metrics.render(self.pool_stats(), self.certificate_expiries(), per_tenant=per_tenant)

    def pool_stats(self) -> dict[str, PoolStats]:
        return {name: pool.stats() for name, pool in self.backends.items()}

    def health_check(self) -> dict[str, int]:
        return {name: pool.health_check() for name, pool in self.backends.items()}

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for pool in self.backends.values():
            pool.close()
