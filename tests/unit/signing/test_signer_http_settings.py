"""The signer's HTTP API listens on 127.0.0.1 unless told otherwise, and production refuses to open it
without per-caller tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cbec.production import UnsafeForProduction
from cbec.settings import Settings
from cbec.signing.certs import generate_sm2_identity
from signer_service.clients import issue_client
from signer_service.main import build_process

CODE = "3105960001"


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    key, cert = generate_sm2_identity(CODE, "示例跨境电商平台有限公司")
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "tenants.json").write_text(json.dumps([
        {"customsCode": CODE, "name": "p", "roles": ["platform"], "dxpId": "DXPENT0000000001"}]))
    return {"CBEC_SIGNER_BACKEND": "software", "CBEC_SIGNER_KEY_PEM": str(tmp_path / "key.pem"),
            "CBEC_SIGNER_CERT_PEM": str(tmp_path / "cert.pem"), "CBEC_SIGNER_TENANT": CODE,
            "CBEC_SIGNER_HTTP_PORT": "18080", **extra}


def _started(environ: dict[str, str]) -> tuple[str | None, bool]:
    process = build_process(Settings.from_environ(environ))
    try:
        return process.http_host, process.http_app is not None
    finally:
        for close in process.on_close:
            close()


def test_the_http_api_binds_every_address_by_default_so_probes_reach_the_pod(tmp_path: Path) -> None:
    assert _started(_environ(tmp_path)) == ("0.0.0.0", True)


def test_loopback_only_when_configured_by_the_signer_or_the_process_setting(tmp_path: Path) -> None:
    assert _started(_environ(tmp_path, CBEC_SIGNER_HTTP_HOST="127.0.0.1")) == ("127.0.0.1", True)
    assert _started(_environ(tmp_path, CBEC_HTTP_HOST="127.0.0.1")) == ("127.0.0.1", True)


def test_production_refuses_an_http_api_without_client_tokens(tmp_path: Path) -> None:
    environ = _environ(tmp_path, CBEC_ENV="production", CBEC_TENANTS_FILE=str(tmp_path / "tenants.json"),
                       CBEC_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", CBEC_KAFKA_USERNAME="cbec-signer",
                       CBEC_KAFKA_PASSWORD="signer-secret")
    with pytest.raises(UnsafeForProduction, match="CBEC_SIGNER_CLIENTS_FILE"):
        _started(environ)
    _, client = issue_client([CODE])
    (tmp_path / "clients.json").write_text(json.dumps([client.to_json()]))
    assert _started({**environ, "CBEC_SIGNER_CLIENTS_FILE": str(tmp_path / "clients.json")})[1]
