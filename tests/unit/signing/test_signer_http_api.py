"""HTTP API: each caller's own token signs only for the enterprises it names; /metrics and /health
name no tenant without the operator's token."""

from __future__ import annotations

import base64

import pytest
from cbec.signing.pool import KeyPool
from cbec.signing.registry import HOLDER_MISMATCH, CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from ceb_samples import samples_dir
from fastapi.testclient import TestClient
from signer_service.api import create_app
from signer_service.application import SignerApp
from signer_service.clients import SignerClients, issue_client

PLATFORM = "1101180326"  # BaseTransfer/copCode of the sample order
SELLER = "3301961234"
OPERATOR = "operator-token-not-a-secret"

PLATFORM_TOKEN, PLATFORM_CLIENT = issue_client([PLATFORM, "4401999999"], "platform's ERP")
SELLER_TOKEN, SELLER_CLIENT = issue_client([SELLER], "seller's ERP")
AUTH = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
SELLER_AUTH = {"Authorization": f"Bearer {SELLER_TOKEN}"}


@pytest.fixture
def client(sm2_key: SoftwareSM2Key) -> TestClient:
    registry = CertificateRegistry()
    pools = {code: KeyPool(lambda: sm2_key, size=1) for code in (PLATFORM, SELLER)}
    for code, pool in pools.items():
        registry.register(code, pool)
    clients = SignerClients([PLATFORM_CLIENT, SELLER_CLIENT])
    return TestClient(create_app(SignerApp(registry, pools), clients, OPERATOR))


def _xml_b64() -> str:
    return base64.b64encode((samples_dir() / "import" / "CEB311Message.xml").read_bytes()).decode()


def test_sign_then_verify(client: TestClient) -> None:
    signed = client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=AUTH)
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


def test_a_token_for_one_enterprise_cannot_sign_for_another(client: TestClient) -> None:
    response = client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=SELLER_AUTH)
    assert response.status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}).text.count(
        "cbec_signer_signs_total 0") == 1


def test_the_document_must_be_transmitted_by_the_enterprise_the_token_signs_for(client: TestClient) -> None:
    # The seller may sign for itself, but the document's copCode names the platform.
    response = client.post("/sign", json={"tenant": SELLER, "xml_b64": _xml_b64()}, headers=SELLER_AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == HOLDER_MISMATCH


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": PLATFORM_TOKEN},
                                     {"Authorization": f"Bearer {OPERATOR}"}])
def test_sign_and_verify_need_a_client_token(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=headers).status_code == 401
    assert client.post("/verify", json={"xml_b64": _xml_b64()}, headers=headers).status_code == 401


def test_without_configured_clients_signing_is_refused(sm2_key: SoftwareSM2Key) -> None:
    client = TestClient(create_app(SignerApp(CertificateRegistry()), None, OPERATOR))
    assert client.post("/sign", json={"tenant": "t", "xml_b64": ""}, headers=AUTH).status_code == 401
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    assert client.post("/sign", json={"tenant": "t", "xml_b64": ""}, headers=operator).status_code == 401


def test_metrics_count_signs_errors_and_pool_use(client: TestClient) -> None:
    client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=AUTH)
    client.post("/sign", json={"tenant": "4401999999", "xml_b64": _xml_b64()}, headers=AUTH)
    text = client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}).text
    assert "cbec_signer_signs_total 1" in text
    assert 'cbec_signer_errors_total{kind="CBEC-SIG-TENANT"} 1' in text
    assert f'cbec_signer_pool_size{{pool="{PLATFORM}"}} 1' in text
    assert 'cbec_signer_sign_seconds_bucket{le="+Inf"} 1' in text
    expiry = next(line for line in text.splitlines() if line.startswith("cbec_signer_certificate_expiry_seconds"))
    assert 360 * 86400 < float(expiry.split()[-1]) <= 365 * 86400


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, AUTH])
def test_metrics_without_the_operator_token_name_no_tenant(client: TestClient, headers: dict[str, str]) -> None:
    client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=AUTH)
    text = client.get("/metrics", headers=headers).text
    assert PLATFORM not in text and SELLER not in text
    assert "cbec_signer_signs_total 1" in text
    assert "cbec_signer_pool_size 2" in text
    expiry = next(line for line in text.splitlines() if line.startswith("cbec_signer_certificate_expiry_seconds_min"))
    assert 360 * 86400 < float(expiry.split()[-1]) <= 365 * 86400


def test_health_names_no_tenant(client: TestClient) -> None:
    client.post("/sign", json={"tenant": PLATFORM, "xml_b64": _xml_b64()}, headers=AUTH)
    client.post("/sign", json={"tenant": SELLER, "xml_b64": _xml_b64()}, headers=SELLER_AUTH)
    response = client.get("/health")
    assert response.json() == {"ok": True, "pools": {"configured": 2, "working": 2}}
    assert PLATFORM not in response.text and SELLER not in response.text
