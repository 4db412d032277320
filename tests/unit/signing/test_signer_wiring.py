"""Settings from CBEC_* variables build a working signer; key files load in the E-Port's formats."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cbec.contracts.signing import SignRequest
from cbec.settings import Settings, SignerSettings
from cbec.signing.certs import certificate_der_from_pem_or_der, generate_rsa_identity
from cbec.signing.keys import load_key_files
from cbec.signing.xmldsig import verify_document
from ceb_samples import samples_dir
from signer_service.bootstrap import build_app


def _write_identity(tmp_path: Path, identity: tuple[bytes, bytes]) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_bytes(identity[0])
    cert.write_bytes(identity[1])
    return key, cert


def test_software_backend_from_environment_signs_for_the_configured_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sm2_identity: tuple[bytes, bytes]
) -> None:
    key, cert = _write_identity(tmp_path, sm2_identity)
    monkeypatch.setenv("CBEC_SIGNER_BACKEND", "software")
    monkeypatch.setenv("CBEC_SIGNER_KEY_PEM", str(key))
    monkeypatch.setenv("CBEC_SIGNER_CERT_PEM", str(cert))
    monkeypatch.setenv("CBEC_SIGNER_TENANT", "1101180326")
    monkeypatch.setenv("CBEC_SIGNER_PROFILE", "eport-client")
    app = build_app(Settings())
    xml = (samples_dir() / "import" / "CEB411Message.xml").read_bytes()
    result = app.handle(SignRequest.for_xml("r1", "1101180326", "CEB411", "k", xml))
    assert result.ok, result.error
    verified = verify_document(result.signed_xml())
    assert (verified.ok, verified.profile) == (True, "eport-client")
    app.close()


def test_tenant_defaults_to_the_certificate_holder_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sm2_identity: tuple[bytes, bytes]
) -> None:
    key, cert = _write_identity(tmp_path, sm2_identity)
    monkeypatch.setenv("CBEC_SIGNER_KEY_PEM", str(key))
    monkeypatch.setenv("CBEC_SIGNER_CERT_PEM", str(cert))
    monkeypatch.delenv("CBEC_SIGNER_TENANT", raising=False)
    monkeypatch.setenv("CBEC_SIGNER_BACKEND", "software")
    app = build_app(Settings())
    assert [e.customs_code for e in app.registry.entries()] == ["3301961234"]
    app.close()


def test_software_backend_without_key_files_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CBEC_SIGNER_KEY_PEM", raising=False)
    monkeypatch.delenv("CBEC_SIGNER_CERT_PEM", raising=False)
    with pytest.raises(ValueError, match="CBEC_SIGNER_KEY_PEM"):
        build_app(Settings(signer=SignerSettings(backend="software")))


@pytest.mark.parametrize("cert_format", ["der", "base64-text", "pem"])
def test_eport_sign_cer_loads_in_each_format(
    tmp_path: Path, cert_format: str, sm2_identity: tuple[bytes, bytes]
) -> None:
    key_pem, cert_pem = sm2_identity
    der = certificate_der_from_pem_or_der(cert_pem)
    content = {"der": der, "base64-text": base64.encodebytes(der), "pem": cert_pem}[cert_format]
    (tmp_path / "sign.cer").write_bytes(content)
    (tmp_path / "sign.key").write_bytes(key_pem)
    key = load_key_files(tmp_path / "sign.key", tmp_path / "sign.cer")
    assert key.algorithm == "SM2"
    assert key.certificate_der == der


def test_rsa_key_files_load_as_an_rsa_key(tmp_path: Path) -> None:
    key_pem, cert_pem = generate_rsa_identity("1101180326", "x", key_size=1024)
    key, cert = _write_identity(tmp_path, (key_pem, cert_pem))
    loaded = load_key_files(key, cert)
    assert loaded.algorithm == "RSA"
    assert len(loaded.sign(b"x")) == 128


def test_a_tenants_file_registers_one_key_per_customs_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sm2_identity: tuple[bytes, bytes]
) -> None:
    import json

    from cbec.signing.certs import generate_sm2_identity

    sm2_key, sm2_cert = _write_identity(tmp_path, sm2_identity)
    other = tmp_path / "other"
    other.mkdir()
    other_key, other_cert = _write_identity(other, generate_sm2_identity("4401999999", "y"))
    tenants = [
        {"customs_code": "1101180326", "key_pem": str(sm2_key), "cert_pem": str(sm2_cert)},
        {
            "customs_code": "4401999999",
            "key_pem": str(other_key),
            "cert_pem": str(other_cert),
            "profile": "eport-client",
        },
    ]
    (tmp_path / "tenants.json").write_text(json.dumps(tenants))
    for name in ("CBEC_SIGNER_KEY_PEM", "CBEC_SIGNER_CERT_PEM", "CBEC_SIGNER_TENANT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CBEC_SIGNER_BACKEND", "software")
    monkeypatch.setenv("CBEC_SIGNER_TENANTS_FILE", str(tmp_path / "tenants.json"))
    app = build_app(Settings())
    assert sorted(app.backends) == ["1101180326", "4401999999"]
    xml = (samples_dir() / "import" / "CEB411Message.xml").read_bytes()
    own = app.handle(SignRequest.for_xml("a", "1101180326", "CEB411", "k", xml))
    assert own.ok and verify_document(own.signed_xml()).profile == "spec-2022"
    foreign = app.handle(SignRequest.for_xml("b", "4401999999", "CEB411", "k", xml))
    assert foreign.error is not None and foreign.error.code == "-625013"
    app.close()


def test_an_encrypted_sm2_key_file_loads_with_its_password(tmp_path: Path, sm2_identity: tuple[bytes, bytes]) -> None:
    import subprocess

    from cbec.signing import _libcrypto as lc

    encrypted = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:s3cret"],
        input=sm2_identity[0],
        capture_output=True,
        check=True,
    ).stdout
    assert b"ENCRYPTED" in encrypted
    (tmp_path / "sign.key").write_bytes(encrypted)
    (tmp_path / "sign.cer").write_bytes(sm2_identity[1])
    key = load_key_files(tmp_path / "sign.key", tmp_path / "sign.cer", password=b"s3cret")
    assert key.certificate_der == certificate_der_from_pem_or_der(sm2_identity[1])
    with pytest.raises(lc.OpenSSLError):
        load_key_files(tmp_path / "sign.key", tmp_path / "sign.cer", password=b"wrong")


def test_an_encrypted_key_without_password_fails_instead_of_prompting(
    tmp_path: Path, sm2_identity: tuple[bytes, bytes]
) -> None:
    import subprocess

    from cbec.signing import _libcrypto as lc

    encrypted = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:s3cret"],
        input=sm2_identity[0],
        capture_output=True,
        check=True,
    ).stdout
    with pytest.raises(lc.OpenSSLError):
        lc.load_private_pem(encrypted)
