"""Enveloped XML-DSig: placement per XSD, round trips per profile, and every failure mode."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from cbec.reference import xsd_dir
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SoftwareRSAKey
from cbec.signing.profiles import CHINAPORT_SM2_SM3, CHINAPORT_SM3, W3C_SHA1, W3C_SM2_SM3
from cbec.signing.sm2 import SoftwareSM2Key, sm2_verify
from cbec.signing.xmldsig import (
    CEB_NS,
    EXPORT_ROOTS,
    IMPORT_ROOTS,
    SigningError,
    sign_document,
    strip_signature,
    verify_document,
)
from ceb_samples import samples_dir
from lxml import etree

DS = "{http://www.w3.org/2000/09/xmldsig#}"
CEB = f"{{{CEB_NS}}}"


@cache
def _schema(kind: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(xsd_dir() / f"ceb-{kind}.xsd")))


def _declarations(kind: str, roots: frozenset[str]) -> list[Path]:
    return [p for p in sorted((samples_dir() / kind).glob("CEB*Message.xml")) if p.name[:-4] in roots]


def _fix_export_sample(xml: bytes) -> bytes:
    """Drop the duplicated BaseTransfer some upstream export samples carry (README: sample defect)."""
    root = etree.fromstring(xml)
    transfers = root.findall(f"{CEB}BaseTransfer")
    for extra in transfers[1:]:
        root.remove(extra)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _with_extend_message(xml: bytes) -> bytes:
    root = etree.fromstring(strip_signature(xml))
    ext = etree.SubElement(root, f"{CEB}ExtendMessage")
    etree.SubElement(ext, f"{CEB}name").text = "cbec"
    etree.SubElement(ext, f"{CEB}version").text = "1"
    etree.SubElement(ext, f"{CEB}Message")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _children(xml: bytes) -> list[str]:
    return [etree.QName(c).localname for c in etree.fromstring(xml) if isinstance(c.tag, str)]


@pytest.mark.parametrize("path", _declarations("import", IMPORT_ROOTS), ids=lambda p: p.name)
def test_resigned_import_sample_is_schema_valid_and_verifies(path: Path, sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document(strip_signature(path.read_bytes()), sm2_key)
    _schema("import").assertValid(etree.fromstring(signed))
    result = verify_document(signed)
    assert result.ok, result.reason
    assert (result.code, result.algorithm, result.serial_hex) == ("OK", "SM2", sm2_key.serial_hex)


@pytest.mark.parametrize("path", _declarations("export", EXPORT_ROOTS), ids=lambda p: p.name)
def test_resigned_export_sample_puts_signature_before_extend_message(path: Path, sm2_key: SoftwareSM2Key) -> None:
    doc = _with_extend_message(_fix_export_sample(path.read_bytes()))
    signed = sign_document(doc, sm2_key)
    children = _children(signed)
    assert children[-2:] == ["Signature", "ExtendMessage"]
    if path.name == "CEB792Message.xml":
        # Customs-to-enterprise: XSD-E22 gives it no BaseTransfer and no ds:Signature slot at all.
        assert children[-3] == "SummaryResult"
    else:
        assert children[-3] in {"BaseTransfer", "BaseSubscribe"}
        _schema("export").assertValid(etree.fromstring(signed))
    assert verify_document(signed).ok


def test_import_signature_goes_after_extend_message(sm2_key: SoftwareSM2Key) -> None:
    doc = _with_extend_message((samples_dir() / "import" / "CEB621Message.xml").read_bytes())
    signed = sign_document(doc, sm2_key)
    assert _children(signed)[-2:] == ["ExtendMessage", "Signature"]
    _schema("import").assertValid(etree.fromstring(signed))
    assert verify_document(signed).ok


def test_spec_2022_writes_chinaport_uris_key_name_and_certificate(sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document((samples_dir() / "import" / "CEB311Message.xml").read_bytes(), sm2_key)
    sig = etree.fromstring(signed).find(f"{DS}Signature")
    assert sig is not None
    assert sig.find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm") == CHINAPORT_SM2_SM3  # type: ignore[union-attr]
    assert sig.find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod").get("Algorithm") == CHINAPORT_SM3  # type: ignore[union-attr]
    assert sig.findtext(f"{DS}KeyInfo/{DS}KeyName") == sm2_key.serial_hex
    assert sm2_key.serial_hex == sm2_key.serial_hex.lower()
    cert_b64 = sig.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert base64.b64decode(cert_b64 or "") == sm2_key.certificate_der
    assert len(base64.b64decode(sig.findtext(f"{DS}SignatureValue") or "")) == 64


def test_signature_value_is_sm2_over_inclusive_c14n_of_signed_info(sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document((samples_dir() / "import" / "CEB311Message.xml").read_bytes(), sm2_key)
    root = etree.fromstring(signed)
    signed_info = root.find(f"{DS}Signature/{DS}SignedInfo")
    assert signed_info is not None
    c14n = etree.tostring(signed_info, method="c14n")
    assert c14n.startswith(b'<ds:SignedInfo xmlns:ceb="http://www.chinaport.gov.cn/ceb"')
    value = base64.b64decode(root.findtext(f"{DS}Signature/{DS}SignatureValue") or "")
    assert sm2_verify(sm2_key.certificate_der, c14n, value)


def test_signing_replaces_an_existing_signature(sm2_key: SoftwareSM2Key) -> None:
    original = (samples_dir() / "import" / "CEB621Message.xml").read_bytes()
    signed = sign_document(original, sm2_key)
    assert _children(signed).count("Signature") == 1
    assert verify_document(signed).ok


def test_a_receipt_root_is_not_signable(sm2_key: SoftwareSM2Key) -> None:
    with pytest.raises(SigningError) as info:
        sign_document((samples_dir() / "import" / "CEB312Message.xml").read_bytes(), sm2_key)
    assert info.value.code == "CBEC-SIG-ROOT"


def test_rsa_sha1_output_verifies_under_libxmlsec1(rsa_key: SoftwareRSAKey, rsa_identity: tuple[bytes, bytes]) -> None:
    import xmlsec

    signed = sign_document((samples_dir() / "import" / "CEB311Message.xml").read_bytes(), rsa_key)
    assert verify_document(signed).algorithm == "RSA"

    def xmlsec_verify(xml: bytes) -> None:
        root = etree.fromstring(xml)
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(rsa_identity[1], xmlsec.constants.KeyDataFormatCertPem)
        node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
        assert node is not None
        ctx.verify(node)

    xmlsec_verify(signed)
    with pytest.raises(xmlsec.VerificationError):
        xmlsec_verify(signed.replace(b"<ceb:orderNo>", b"<ceb:orderNo>9", 1))


def test_rsa_sha1_output_verifies_under_signxml(rsa_key: SoftwareRSAKey, rsa_identity: tuple[bytes, bytes]) -> None:
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    signed = sign_document((samples_dir() / "import" / "CEB411Message.xml").read_bytes(), rsa_key)
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.RSA_SHA1}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1}),
    )
    result = XMLVerifier().verify(signed, x509_cert=rsa_identity[1].decode(), expect_config=config)
    assert not isinstance(result, list)
    assert result.signed_xml is not None
    assert etree.QName(result.signed_xml).localname == "CEB411Message"


@pytest.mark.parametrize("profile", ["spec-2022", "eport-client", "hsm-digest-value"])
@pytest.mark.parametrize("key_fixture", ["sm2_key", "rsa_key"])
def test_every_profile_round_trips_and_is_recognised(
    profile: str, key_fixture: str, request: pytest.FixtureRequest
) -> None:
    key = request.getfixturevalue(key_fixture)
    signed = sign_document((samples_dir() / "import" / "CEB511Message.xml").read_bytes(), key, profile)
    assert verify_document(signed, profile=profile).ok
    inferred = verify_document(signed)
    assert inferred.ok
    if key.algorithm == "SM2":  # RSA URIs are shared between spec-2022 and eport-client
        assert inferred.profile == profile


def test_eport_client_profile_digests_sha1_with_w3c_sm2_uri(sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document((samples_dir() / "import" / "CEB511Message.xml").read_bytes(), sm2_key, "eport-client")
    info = etree.fromstring(signed).find(f"{DS}Signature/{DS}SignedInfo")
    assert info is not None
    assert info.find(f"{DS}SignatureMethod").get("Algorithm") == W3C_SM2_SM3  # type: ignore[union-attr]
    assert info.find(f"{DS}Reference/{DS}DigestMethod").get("Algorithm") == W3C_SHA1  # type: ignore[union-attr]
    assert len(base64.b64decode(info.findtext(f"{DS}Reference/{DS}DigestValue") or "")) == 20


def test_comments_are_outside_the_spec_digest_but_inside_the_eport_client_digest(
    sm2_key: SoftwareSM2Key,
) -> None:
    doc = (samples_dir() / "import" / "CEB511Message.xml").read_bytes()
    spec = sign_document(doc, sm2_key, "spec-2022")
    eport = sign_document(doc, sm2_key, "eport-client")
    marker = b"<ceb:BaseTransfer>"
    assert verify_document(spec.replace(marker, b"<!-- note -->" + marker, 1)).ok
    commented = verify_document(eport.replace(marker, b"<!-- note -->" + marker, 1))
    assert (commented.ok, commented.code) == (False, "CBEC-SIG-DIGEST")


def test_hsm_digest_value_profile_signs_the_digest_text(sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document((samples_dir() / "import" / "CEB511Message.xml").read_bytes(), sm2_key, "hsm-digest-value")
    sig = etree.fromstring(signed).find(f"{DS}Signature")
    assert sig is not None
    digest_text = (sig.findtext(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue") or "").encode()
    value = base64.b64decode(sig.findtext(f"{DS}SignatureValue") or "")
    assert sm2_verify(sm2_key.certificate_der, digest_text, value)


def test_verifying_with_the_wrong_profile_fails(sm2_key: SoftwareSM2Key) -> None:
    signed = sign_document((samples_dir() / "import" / "CEB511Message.xml").read_bytes(), sm2_key, "eport-client")
    result = verify_document(signed, profile="spec-2022")
    assert (result.ok, result.code) == (False, "CBEC-SIG-ALGORITHM")


# ---- failure modes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_311(sm2_key: SoftwareSM2Key) -> bytes:
    return sign_document((samples_dir() / "import" / "CEB311Message.xml").read_bytes(), sm2_key)


def test_missing_signature_is_reported() -> None:
    result = verify_document(strip_signature((samples_dir() / "import" / "CEB311Message.xml").read_bytes()))
    assert (result.ok, result.code) == (False, "CBEC-SIG-MISSING")
    assert "no ds:Signature" in result.reason


def test_tampered_content_fails_on_the_digest(signed_311: bytes) -> None:
    result = verify_document(signed_311.replace(b"<ceb:orderNo>", b"<ceb:orderNo>1", 1))
    assert (result.ok, result.code) == (False, "CBEC-SIG-DIGEST")


def test_tampered_signed_info_fails_on_the_signature(signed_311: bytes) -> None:
    root = etree.fromstring(signed_311)
    uri = root.find(f"{DS}Signature/{DS}SignedInfo/{DS}Reference")
    assert uri is not None
    uri.set("Id", "x")  # SignedInfo changes, digest of the document does not
    result = verify_document(etree.tostring(root))
    assert (result.ok, result.code) == (False, "CBEC-SIG-INVALID")


def test_signature_by_another_key_under_the_same_certificate_fails(sm2_key: SoftwareSM2Key, signed_311: bytes) -> None:
    other_key_pem, _ = generate_sm2_identity("3301961234", "x")
    root = etree.fromstring(signed_311)
    signed_info = root.find(f"{DS}Signature/{DS}SignedInfo")
    assert signed_info is not None
    from cbec.signing import _libcrypto as lc
    from cbec.signing.sm2 import der_to_rs

    forged = der_to_rs(
        lc.sm2_sign_der(
            lc.load_private_pem(other_key_pem),
            etree.tostring(signed_info, method="c14n"),
            b"1234567812345678",
        )
    )
    root.find(f"{DS}Signature/{DS}SignatureValue").text = base64.b64encode(forged).decode()  # type: ignore[union-attr]
    result = verify_document(etree.tostring(root))
    assert (result.ok, result.code) == (False, "CBEC-SIG-INVALID")


def test_swapping_in_another_certificate_fails(signed_311: bytes) -> None:
    _, other_cert = generate_sm2_identity("3301961234", "x")
    from cbec.signing.certs import certificate_info

    other = certificate_info(other_cert)
    root = etree.fromstring(signed_311)
    root.find(f"{DS}Signature/{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").text = (  # type: ignore[union-attr]
        base64.b64encode(other.der).decode()
    )
    key_name_kept = verify_document(etree.tostring(root))  # the signature is checked before the KeyName
    assert (key_name_kept.ok, key_name_kept.code) == (False, "CBEC-SIG-INVALID")
    root.find(f"{DS}Signature/{DS}KeyInfo/{DS}KeyName").text = other.serial_hex  # type: ignore[union-attr]
    result = verify_document(etree.tostring(root))
    assert (result.ok, result.code) == (False, "CBEC-SIG-INVALID")


def test_expired_certificate_fails(tmp_path: Path) -> None:
    key_pem, cert_pem = generate_sm2_identity(
        "3301961234", "x", days=1, not_before=datetime.now(UTC) - timedelta(days=3)
    )
    signed = sign_document(
        (samples_dir() / "import" / "CEB311Message.xml").read_bytes(),
        SoftwareSM2Key.from_pem(key_pem, cert_pem),
    )
    result = verify_document(signed)
    assert (result.ok, result.code) == (False, "CBEC-SIG-CERT-EXPIRED")
    assert verify_document(signed, at=datetime.now(UTC) - timedelta(days=2, hours=12)).ok


def test_untrusted_certificate_fails_when_a_trust_list_is_given(signed_311: bytes, sm2_key: SoftwareSM2Key) -> None:
    assert verify_document(signed_311, trusted={sm2_key.certificate_der}).ok
    result = verify_document(signed_311, trusted=set())
    assert (result.ok, result.code) == (False, "CBEC-SIG-CERT-UNTRUSTED")


def test_garbage_and_broken_signatures_give_clear_codes(signed_311: bytes) -> None:
    assert verify_document(b"<not xml").code == "CBEC-SIG-XML"
    no_cert = etree.fromstring(signed_311)
    x509 = no_cert.find(f"{DS}Signature/{DS}KeyInfo/{DS}X509Data")
    assert x509 is not None
    x509.getparent().remove(x509)  # type: ignore[union-attr]
    assert verify_document(etree.tostring(no_cert)).code == "CBEC-SIG-NO-CERT"
    assert verify_document(signed_311.replace(b'URI=""', b'URI="#x"')).code == "CBEC-SIG-MALFORMED"


def test_comments_outside_the_root_are_handled_like_libxmlsec1(
    rsa_key: SoftwareRSAKey, rsa_identity: tuple[bytes, bytes]
) -> None:
    import xmlsec

    sample = (samples_dir() / "import" / "CEB311Message.xml").read_bytes().lstrip(b"\xef\xbb\xbf")
    head, rest = sample.split(b"?>", 1)
    doc = head + b"?>\n<!-- exported by the ERP -->\n<?erp batch='7'?>" + rest
    signed = sign_document(doc, rsa_key)
    assert b"<!-- exported by the ERP -->" in signed
    assert verify_document(signed).ok
    root = etree.fromstring(signed)
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(rsa_identity[1], xmlsec.constants.KeyDataFormatCertPem)
    node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    assert node is not None
    ctx.verify(node)
    changed_pi = signed.replace(b"batch='7'", b"batch='8'")
    assert verify_document(changed_pi).code == "CBEC-SIG-DIGEST"


def test_sm2_document_checks_out_with_independent_sm3_sm2_and_the_openssl_cli(
    sm2_key: SoftwareSM2Key, sm2_identity: tuple[bytes, bytes], tmp_path: Path
) -> None:
    import subprocess

    from cbec.signing.sm2 import rs_to_der
    from gmssl import func, sm3
    from key_backend_contract import verifies_as_sm2_independently

    unsigned = strip_signature((samples_dir() / "import" / "CEB621Message.xml").read_bytes())
    signed = sign_document(unsigned, sm2_key)
    root = etree.fromstring(signed)
    signed_info = root.find(f"{DS}Signature/{DS}SignedInfo")
    assert signed_info is not None
    signed_info_c14n = etree.tostring(signed_info, method="c14n")
    digest_b64 = root.findtext(f"{DS}Signature/{DS}SignedInfo/{DS}Reference/{DS}DigestValue") or ""
    value = base64.b64decode(root.findtext(f"{DS}Signature/{DS}SignatureValue") or "")

    # DigestValue = SM3 (pure-Python gmssl) over the inclusive C14N of the document without the signature.
    document_c14n = etree.tostring(etree.fromstring(unsigned).getroottree(), method="c14n")
    assert base64.b64decode(digest_b64).hex() == sm3.sm3_hash(func.bytes_to_list(document_c14n))
    # SignatureValue = SM3withSM2 over canonical SignedInfo, checked by gmssl and by the openssl CLI.
    assert verifies_as_sm2_independently(sm2_key.certificate_der, signed_info_c14n, value)
    (tmp_path / "si.xml").write_bytes(signed_info_c14n)
    (tmp_path / "sig.der").write_bytes(rs_to_der(value))
    (tmp_path / "cert.pem").write_bytes(sm2_identity[1])
    subprocess.run(
        ["openssl", "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem"], cwd=tmp_path, check=True
    )

    def cli(distid: str) -> int:
        args = ["openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", "pub.pem"]
        args += ["-pkeyopt", f"distid:{distid}", "-in", "si.xml", "-sigfile", "sig.der"]
        return subprocess.run(args, cwd=tmp_path, capture_output=True).returncode

    assert cli("1234567812345678") == 0
    assert cli("1234567812345679") != 0
