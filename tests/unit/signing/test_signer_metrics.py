"""The signer's figures as Prometheus reads them: how long a signature takes, how busy each tenant's key pool
(HSM sessions) is while documents are signed, and how many days each certificate has left."""

from __future__ import annotations

import threading
from datetime import timedelta

from cbec.contracts.signing import SignRequest
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from ceb_samples import samples_dir
from prometheus_client.parser import text_string_to_metric_families
from signer_service.application import SignerApp

TENANT = "1101180326"  # the copCode in the official samples' BaseTransfer


class HeldSession:
    """An HSM session whose signatures take ``delay`` seconds, or wait until ``go`` is set."""

    def __init__(self, key: SoftwareSM2Key, *, delay: float = 0.0, go: threading.Event | None = None) -> None:
        self._key, self._delay, self._go = key, delay, go
        self.started = threading.Event()
        self.algorithm, self.certificate_der, self.serial_hex = key.algorithm, key.certificate_der, key.serial_hex

    def sign(self, data: bytes) -> bytes:
        self.started.set()
        if self._go is not None:
            assert self._go.wait(10)
        elif self._delay:
            threading.Event().wait(self._delay)
        return self._key.sign(data)

    def close(self) -> None:
        pass


def request(request_id: str) -> SignRequest:
    xml = (samples_dir() / "import" / "CEB311Message.xml").read_bytes()
    return SignRequest.for_xml(request_id, TENANT, "CEB311", "ebp:order-1", xml)


def scraped(app: SignerApp, *, per_tenant: bool = True) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = app.render_metrics(per_tenant=per_tenant)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def signer_with(session: HeldSession, size: int = 1) -> SignerApp:
    pool = KeyPool(lambda: session, size=size)
    registry = CertificateRegistry()
    registry.register(TENANT, pool)
    return SignerApp(registry, {TENANT: pool})


def test_a_slow_signature_lands_in_the_latency_bucket_of_its_duration(sm2_key: SoftwareSM2Key) -> None:
    app = signer_with(HeldSession(sm2_key, delay=0.3))
    assert app.handle(request("slow")).ok
    figures = scraped(app)
    assert figures[("cbec_signer_sign_seconds_bucket", (("le", "0.25"),))] == 0
    assert figures[("cbec_signer_sign_seconds_bucket", (("le", "0.5"),))] == 1
    assert 0.3 <= figures[("cbec_signer_sign_seconds_sum", ())] < 0.5


def test_the_pool_shows_a_session_in_use_and_a_caller_waiting_while_it_signs(sm2_key: SoftwareSM2Key) -> None:
    go = threading.Event()
    session = HeldSession(sm2_key, go=go)
    app = signer_with(session)
    first = threading.Thread(target=app.handle, args=(request("first"),))
    second = threading.Thread(target=app.handle, args=(request("second"),))
    first.start()
    assert session.started.wait(10)
    second.start()
    pool = (("pool", TENANT),)
    for _ in range(200):  # the second caller queues for the one session
        if scraped(app)[("cbec_signer_pool_waiting", pool)] == 1:
            break
        threading.Event().wait(0.01)
    busy = scraped(app)
    assert (busy[("cbec_signer_pool_in_use", pool)], busy[("cbec_signer_pool_waiting", pool)]) == (1, 1)
    assert scraped(app, per_tenant=False)[("cbec_signer_pool_in_use", ())] == 1  # summed, no tenant named
    go.set()
    first.join(10)
    second.join(10)
    idle = scraped(app)
    assert (idle[("cbec_signer_pool_in_use", pool)], idle[("cbec_signer_pool_waiting", pool)]) == (0, 0)
    assert idle[("cbec_signer_signs_total", ())] == 2


def test_each_certificate_shows_its_days_to_expiry_and_the_summed_view_the_soonest() -> None:
    soon, later = "3105960001", "3105960002"
    registry = CertificateRegistry()
    keys = {code: SoftwareSM2Key.from_pem(*generate_sm2_identity(code, "测试企业", days))
            for code, days in ((soon, 40), (later, 400))}
    for code, key in keys.items():
        registry.register(code, key)
    app = SignerApp(registry)
    at = registry.get(soon).expires_at - timedelta(days=25)
    expiries = app.certificate_expiries(at)
    text = app.metrics.render({}, expiries, per_tenant=True)
    days = {s.labels["tenant"]: s.value for f in text_string_to_metric_families(text)
            if f.name == "cbec_signer_certificate_days_to_expiry" for s in f.samples}
    assert days[soon] == 25 and 384 <= days[later] <= 386
    summed = app.metrics.render({}, expiries, per_tenant=False)
    [soonest] = [s.value for f in text_string_to_metric_families(summed)
                 if f.name == "cbec_signer_certificate_days_to_expiry_min" for s in f.samples]
    assert soonest == 25 and soon not in summed
