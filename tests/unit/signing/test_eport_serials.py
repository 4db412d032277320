"""E-Port serials: a certificate whose serial starts with a byte below 0x10 signs and verifies.

The E-Port client writes ``ds:KeyName`` as the serial's bytes in lowercase hex (``01691fe9``, SM2
cards ``03000000000cde6f``). cbec writes it the same way, compares KeyNames as numbers, and a message
signed elsewhere (here: by hand with the pure-Python ``gmssl`` and with ``cryptography``) verifies.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from asn1crypto import keys as akeys
from asn1crypto import pem as apem
from asn1crypto import x509 as ax509
from cbec.signing.certs import (
    certificate_der_from_pem_or_der,
    certificate_info,
    generate_sm2_identity,
    key_name,
    serial_from_key_name,
)
from cbec.signing.keys import Algorithm, SigningKey, load_software_key
from cbec.signing.profiles import PROFILES
from cbec.signing.xmldsig import sign_document, strip_signature, verify_document
from ceb_samples import samples_dir
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

DS = "{http://www.w3.org/2000/09/xmldsig#}"
SM2_SERIAL, SM2_KEY_NAME = 0x03000000000CDE6F, "03000000000cde6f"  # an E-Port SM2 card
RSA_SERIAL, RSA_KEY_NAME = 0x01691FE9, "01691fe9"  # an E-Port RSA IC card
HOLDER = "3301961234"
ALGORITHMS: list[Algorithm] = ["SM2", "RSA"]


def test_key_name_is_the_serial_bytes_in_even_length_lowercase_hex() -> None:
    assert key_name(0x1691FE9) == "01691fe9"
    assert key_name(SM2_SERIAL) == "03000000000cde6f"
    assert key_name(0xABCDEF) == "abcdef"  # no padding beyond the serial's own bytes
    assert key_name(0x80) == "80"
    assert key_name(0) == "00"


def test_a_key_name_is_read_as_a_hex_number() -> None:
    for text in ("01691fe9", "1691fe9", "01691FE9", "0001691fe9", " 1691fe9\n"):
        assert serial_from_key_name(text) == 0x1691FE9, text
    assert serial_from_key_name("0001") == 1
    for text in ("", "  ", "serial-1", "0x1691fe9", None):
        assert serial_from_key_name(text) is None, text


@cache
def identity(algorithm: Algorithm) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) with the E-Port style serial; the RSA one minted by ``cryptography``."""
    if algorithm == "SM2":
        return generate_sm2_identity(HOLDER, "测试企业", serial=SM2_SERIAL)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, HOLDER)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(RSA_SERIAL)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def expected_key_name(algorithm: Algorithm) -> str:
    return SM2_KEY_NAME if algorithm == "SM2" else RSA_KEY_NAME


def inferred_profile(algorithm: Algorithm, profile: str) -> str:
    """RSA under eport-client differs from spec-2022 only in digesting comments; the order has none."""
    return "spec-2022" if (algorithm, profile) == ("RSA", "eport-client") else profile


def signing_key(algorithm: Algorithm) -> SigningKey:
    return load_software_key(*identity(algorithm))


def unsigned_order() -> bytes:
    return strip_signature((samples_dir() / "import" / "CEB311Message.xml").read_bytes())


def with_key_name(signed: bytes, text: str) -> bytes:
    root = etree.fromstring(signed)
    el = root.find(f"{DS}Signature/{DS}KeyInfo/{DS}KeyName")
    assert el is not None
    el.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cbec_signs_with_the_e_port_key_name_and_verifies(algorithm: Algorithm, profile: str) -> None:
    signed = sign_document(unsigned_order(), signing_key(algorithm), profile)
    assert etree.fromstring(signed).findtext(f"{DS}Signature/{DS}KeyInfo/{DS}KeyName") == expected_key_name(algorithm)
    result = verify_document(signed)
    assert (result.ok, result.code, result.algorithm) == (True, "OK", algorithm)
    assert result.profile == inferred_profile(algorithm, profile)
    assert verify_document(signed, profile=profile).ok
    assert result.serial_hex == expected_key_name(algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_key_names_compare_as_numbers(algorithm: Algorithm) -> None:
    signed = sign_document(unsigned_order(), signing_key(algorithm))
    name = expected_key_name(algorithm)
    for written in (name.upper(), name.lstrip("0"), "00" + name):
        assert verify_document(with_key_name(signed, written)).ok, written


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_old_style_key_name_is_reported_after_the_digest_and_value(algorithm: Algorithm) -> None:
    signed = with_key_name(sign_document(unsigned_order(), signing_key(algorithm)), "0001")
    result = verify_document(signed)
    assert (result.ok, result.code) == (False, "CBEC-SIG-KEYNAME-LEGACY")
    assert "digest and signature valid" in result.reason and "0001" in result.reason
    assert (result.serial_hex, result.profile) == (expected_key_name(algorithm), "spec-2022")
    tampered = verify_document(signed.replace(b"<ceb:orderNo>", b"<ceb:orderNo>1", 1))
    assert (tampered.ok, tampered.code) == (False, "CBEC-SIG-DIGEST")


def test_a_key_name_of_another_certificate_is_a_mismatch() -> None:
    signed = with_key_name(sign_document(unsigned_order(), signing_key("SM2")), "03000000000cde70")
    result = verify_document(signed)
    assert (result.ok, result.code) == (False, "CBEC-SIG-KEYNAME")
    assert "another certificate" in result.reason


# --- a message signed elsewhere: canonicalised with lxml, hashed and signed without cbec's signer ---

_SIGNATURE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="{method}"/>'
    '<ds:Reference URI=""><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="{digest_method}"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>'
    "</ds:SignedInfo><ds:SignatureValue>SIGNATURE-VALUE</ds:SignatureValue><ds:KeyInfo>"
    "<ds:KeyName>{key_name}</ds:KeyName><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>"
    "</ds:X509Data></ds:KeyInfo></ds:Signature>"
)
# The conventions of each profile (ceb-formats §5.2), written out here rather than taken from cbec.
_ELSEWHERE = {
    "spec-2022": {
        "c14n": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "SM2": (
            "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3",
            "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3",
        ),
        "comments": False,
        "signs": "SignedInfo",
    },
    "eport-client": {
        "c14n": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "SM2": ("http://www.w3.org/2000/09/xmldsig#sm2-sm3", "http://www.w3.org/2000/09/xmldsig#sha1"),
        "comments": True,
        "signs": "SignedInfo",
    },
    "hsm-digest-value": {
        "c14n": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        "SM2": (
            "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3",
            "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3",
        ),
        "comments": True,
        "signs": "DigestValue",
    },
}
_RSA_URIS = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")


def _gmssl_sm3(data: bytes) -> bytes:
    from gmssl import func, sm3

    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def _gmssl_sm2_sign(key_pem: bytes, cert_der: bytes, data: bytes) -> bytes:
    """SM3withSM2 (id 1234567812345678, gmssl's fixed id) as raw r‖s, with the pure-Python gmssl."""
    from gmssl import sm2 as gm_sm2

    _, _, key_der = apem.unarmor(key_pem)
    d = akeys.PrivateKeyInfo.load(key_der)["private_key"].parsed["private_key"].native
    point = bytes(ax509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]["public_key"])
    crypt = gm_sm2.CryptSM2(private_key=f"{d:064x}", public_key="")
    crypt.public_key = point[-64:].hex()  # gmssl's constructor lstrip("04") mangles some keys
    return bytes.fromhex(crypt.sign_with_sm3(data))


def sign_elsewhere(xml: bytes, algorithm: Algorithm, profile: str) -> bytes:
    conv = _ELSEWHERE[profile]
    key_pem, cert_pem = identity(algorithm)
    cert_der = certificate_der_from_pem_or_der(cert_pem)
    with_comments = bool(conv["comments"])
    document = etree.tostring(etree.fromstring(xml).getroottree(), method="c14n", with_comments=with_comments)
    if algorithm == "SM2":
        method, digest_method = conv["SM2"]
        digest = hashlib.sha1(document).digest() if profile == "eport-client" else _gmssl_sm3(document)
    else:
        method, digest_method = _RSA_URIS
        digest = hashlib.sha1(document).digest()
    signature_xml = _SIGNATURE.format(
        c14n=conv["c14n"],
        method=method,
        digest_method=digest_method,
        digest=base64.b64encode(digest).decode(),
        key_name=expected_key_name(algorithm),
        cert=base64.b64encode(cert_der).decode(),
    ).encode()
    closing = b"</ceb:CEB311Message>"
    assert xml.count(closing) == 1
    unsigned_value = xml.replace(closing, signature_xml + closing)
    root = etree.fromstring(unsigned_value)
    if conv["signs"] == "DigestValue":
        data = base64.b64encode(digest)
    else:
        signed_info = root.find(f"{DS}Signature/{DS}SignedInfo")
        assert signed_info is not None
        data = etree.tostring(signed_info, method="c14n")
    if algorithm == "SM2":
        value = _gmssl_sm2_sign(key_pem, cert_der, data)
    else:
        private = serialization.load_pem_private_key(key_pem, None)
        assert isinstance(private, rsa.RSAPrivateKey)
        value = private.sign(data, padding.PKCS1v15(), hashes.SHA1())
    return unsigned_value.replace(b"SIGNATURE-VALUE", base64.b64encode(value))


@pytest.mark.parametrize("profile", sorted(_ELSEWHERE))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_message_signed_elsewhere_with_an_e_port_serial_verifies(algorithm: Algorithm, profile: str) -> None:
    signed = sign_elsewhere(unsigned_order(), algorithm, profile)
    result = verify_document(signed)
    assert (result.ok, result.code, result.algorithm) == (True, "OK", algorithm), result.reason
    assert result.profile == inferred_profile(algorithm, profile)
    assert verify_document(signed, profile=profile).ok
    assert result.serial_hex == expected_key_name(algorithm)
    assert certificate_info(identity(algorithm)[1]).serial_number == (SM2_SERIAL if algorithm == "SM2" else RSA_SERIAL)
    changed = verify_document(signed.replace(b"<ceb:orderNo>", b"<ceb:orderNo>1", 1))
    assert (changed.ok, changed.code) == (False, "CBEC-SIG-DIGEST")
