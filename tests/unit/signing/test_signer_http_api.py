"""HTTP API: token-protected /sign and /verify, open /metrics."""

from __future__ import annotations

import base64

import pytest
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from ceb_samples import samples_dir
from fastapi.testclient import TestClient
from signer_service.api import create_app
from signer_service.application import SignerApp

TOKEN = "test-token-not-a-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(sm2_key: SoftwareSM2Key) -> TestClient:
    registry = CertificateRegistry()
    pool = KeyPool(lambda: sm2_key, size=1)
    registry.register("1101180326", pool)
    return TestClient(create_app(SignerApp(registry, {"default": pool}), TOKEN))


def _xml_b64() -> str:
    return base64.b64encode((samples_dir() / "import" / "CEB311Message.xml").read_bytes()).decode()


def test_sign_then_verify(client: TestClient) -> None:
    signed = client.post("/sign", json={"tenant": "1101180326", "xml_b64": _xml_b64()}, headers=AUTH)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["ok"] is True
    verified = client.post("/verify", json={"xml_b64": body["signed_xml_b64"]}, headers=AUTH)
    assert verified.json()["ok"] is True
    assert verified.json()["algorithm"] == "SM2"


def test_refusal_is_422_with_the_error_code(client: TestClient) -> None:
    response = client.post("/sign", json={"tenant": "4401999999", "xml_b64": _xml_b64()}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "CBEC-SIG-TENANT"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_sign_and_verify_need_the_bearer_token(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/sign", json={"tenant": "t", "xml_b64": _xml_b64()}, headers=headers).status_code == 401
    assert client.post("/verify", json={"xml_b64": _xml_b64()}, headers=headers).status_code == 401


def test_without_a_configured_token_signing_is_refused(sm2_key: SoftwareSM2Key) -> None:
    client = TestClient(create_app(SignerApp(CertificateRegistry()), None))
    assert client.post("/sign", json={"tenant": "t", "xml_b64": ""}, headers=AUTH).status_code == 401


def test_metrics_count_signs_errors_and_pool_use(client: TestClient) -> None:
    client.post("/sign", json={"tenant": "1101180326", "xml_b64": _xml_b64()}, headers=AUTH)
    client.post("/sign", json={"tenant": "nobody", "xml_b64": _xml_b64()}, headers=AUTH)
    text = client.get("/metrics").text
    assert "cbec_signer_signs_total 1" in text
    assert 'cbec_signer_errors_total{kind="CBEC-SIG-TENANT"} 1' in text
    assert 'cbec_signer_pool_size{pool="default"} 1' in text
    assert 'cbec_signer_sign_seconds_bucket{le="+Inf"} 1' in text
    expiry = next(line for line in text.splitlines() if line.startswith("cbec_signer_certificate_expiry_seconds"))
    assert 360 * 86400 < float(expiry.split()[-1]) <= 365 * 86400
