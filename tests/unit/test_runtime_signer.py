"""The signer runs on the same process runtime: its Kafka worker is a consumer loop, its keys the health check."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.settings import Settings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.pool import PoolStats
from signer_service.main import SignerLoop, build_process, sessions_open, signing_keys_answer


def test_the_signer_process_is_a_service_process_ready_once_its_keys_answer(tmp_path: Path) -> None:
    key, cert = generate_sm2_identity("3105960001", "示例跨境电商平台有限公司")
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(cert)
    ready = tmp_path / "signer.ready"
    ready.write_text("stale")
    settings = Settings.from_environ({
        "CBEC_READY_FILE": str(ready), "CBEC_SIGNER_BACKEND": "software",
        "CBEC_SIGNER_KEY_PEM": str(tmp_path / "key.pem"), "CBEC_SIGNER_CERT_PEM": str(tmp_path / "cert.pem"),
        "CBEC_SIGNER_TENANT": "3105960001",
    })
    process = build_process(settings)
    try:
        [loop] = process.consumers
        assert isinstance(loop, SignerLoop) and not loop.joined()  # nothing joined before it runs
        assert process.ready_file == ready and not ready.exists()
        assert process.health_check is not None
        process.health_check()
        assert process.http_app is None  # no CBEC_SIGNER_HTTP_PORT
    finally:
        for close in process.on_close:
            close()


class BrokenBackends:
    def health_check(self) -> dict[str, int]:
        return {"3105960001": 1, "1101180326": 0}


def test_a_key_backend_without_a_working_connection_keeps_the_signer_unready() -> None:
    with pytest.raises(RuntimeError, match="1101180326"):
        signing_keys_answer(BrokenBackends())  # type: ignore[arg-type]


def test_without_its_api_the_signer_serves_probes_and_summed_metrics_on_the_process_port(tmp_path: Path) -> None:
    key, cert = generate_sm2_identity("3105960001", "示例跨境电商平台有限公司")
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(cert)
    process = build_process(Settings.from_environ({
        "CBEC_SIGNER_BACKEND": "software", "CBEC_SIGNER_KEY_PEM": str(tmp_path / "key.pem"),
        "CBEC_SIGNER_CERT_PEM": str(tmp_path / "cert.pem"), "CBEC_SIGNER_TENANT": "3105960001",
        "CBEC_HTTP_PORT": "18091", "CBEC_SHUTDOWN_GRACE": "6"}))
    try:
        assert process.http_app is None and process.http_port == 18091  # probes only: no /sign
        assert (process.shutdown_timeout, process.close_timeout) == (4.0, 2.0)
        [loop] = process.consumers
        assert isinstance(loop, SignerLoop) and process.heartbeats == [loop.worker.heartbeat]  # /livez reads it
        text = process.metrics().decode()
        assert "cbec_signer_signs_total 0.0" in text and "cbec_signer_pool_connected 1.0" in text
        assert "cbec_signer_certificate_days_to_expiry_min" in text and "3105960001" not in text
    finally:
        for close in process.on_close:
            close()


class Pools:
    """Key pools by tenant: one busy with its only session, one whose session is gone."""

    def __init__(self, connected: dict[str, int]) -> None:
        self.connected = connected

    def pool_stats(self) -> dict[str, PoolStats]:
        return {code: PoolStats(size=1, connected=n, in_use=n, waiting=3, signs=0, reconnects=0, failures=0)
                for code, n in self.connected.items()}


def test_once_running_the_signer_stays_ready_while_every_pool_has_a_session_however_busy() -> None:
    sessions_open(Pools({"3105960001": 1}))  # type: ignore[arg-type]  # busy, no idle session: still ready
    with pytest.raises(RuntimeError, match="1 tenant") as lost:
        sessions_open(Pools({"3105960001": 1, "1101180326": 0}))  # type: ignore[arg-type]
    assert "1101180326" not in str(lost.value)  # the probe's answer names no tenant
