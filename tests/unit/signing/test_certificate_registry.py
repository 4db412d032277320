"""The per-tenant certificate registry refuses what customs would reject and warns before expiry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.registry import CERT_EXPIRED, HOLDER_MISMATCH, UNKNOWN_TENANT, CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import SigningError, verify_document
from ceb_samples import samples_dir
from lxml import etree

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _order(cop_code: str) -> bytes:
    root = etree.fromstring((samples_dir() / "import" / "CEB311Message.xml").read_bytes())
    node = root.find("{http://www.chinaport.gov.cn/ceb}BaseTransfer/{http://www.chinaport.gov.cn/ceb}copCode")
    assert node is not None
    node.text = cop_code
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _key(days: int, start: datetime = NOW - timedelta(days=1)) -> SoftwareSM2Key:
    return SoftwareSM2Key.from_pem(*generate_sm2_identity("3301961234", "x", days=days, not_before=start))


def test_signs_for_the_certificate_holder_with_its_profile(sm2_key: SoftwareSM2Key) -> None:
    registry = CertificateRegistry()
    registry.register("3301961234", sm2_key, "eport-client")
    result = verify_document(registry.sign("3301961234", _order("3301961234")))
    assert (result.ok, result.profile, result.serial_hex) == (True, "eport-client", sm2_key.serial_hex)


def test_refuses_a_document_transmitted_by_another_enterprise(sm2_key: SoftwareSM2Key) -> None:
    registry = CertificateRegistry()
    registry.register("3301961234", sm2_key)
    with pytest.raises(SigningError) as refused:
        registry.sign("3301961234", _order("4401999999"))
    assert refused.value.code == HOLDER_MISMATCH == "-625013"
    assert "4401999999" in str(refused.value)


def test_refuses_an_expired_certificate() -> None:
    registry = CertificateRegistry()
    registry.register("3301961234", _key(days=10, start=NOW - timedelta(days=20)), at=NOW)
    with pytest.raises(SigningError) as refused:
        registry.sign("3301961234", _order("3301961234"), at=NOW)
    assert refused.value.code == CERT_EXPIRED


def test_refuses_an_unknown_tenant(sm2_key: SoftwareSM2Key) -> None:
    registry = CertificateRegistry()
    with pytest.raises(SigningError) as refused:
        registry.sign("3301961234", _order("3301961234"))
    assert refused.value.code == UNKNOWN_TENANT


def test_warns_thirty_days_before_expiry(caplog: pytest.LogCaptureFixture) -> None:
    registry = CertificateRegistry()
    with caplog.at_level(logging.WARNING, logger="cbec.signing.registry"):
        registry.register("3301961234", _key(days=21), at=NOW)
        registry.register("4401999999", _key(days=200), at=NOW)
    warnings = registry.expiry_warnings(at=NOW)
    assert [(w.customs_code, w.days_left) for w in warnings] == [("3301961234", 20)]
    assert "3301961234" in caplog.text and "4401999999" not in caplog.text
    assert registry.expiry_warnings(at=NOW - timedelta(days=30)) == []
    assert [w.customs_code for w in registry.expiry_warnings(at=NOW + timedelta(days=175))] == [
        "3301961234",
        "4401999999",
    ]
