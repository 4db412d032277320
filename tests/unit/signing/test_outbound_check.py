"""Every signed document is verified on the exact bytes that leave the signer.

The signer serialises once and re-reads what it wrote: a serialisation that changes what a verifier
sees, or a key backend whose signatures do not match the certificate, is a ``CBEC-SIG-SELFCHECK``
signing error and no signed document comes out.
"""

from __future__ import annotations

import base64

import pytest
from cbec.contracts.signing import SignRequest
from cbec.signing.certs import generate_rsa_identity, generate_sm2_identity
from cbec.signing.keys import Algorithm, SigningKey, load_software_key
from cbec.signing.profiles import get_profile
from cbec.signing.registry import CertificateRegistry
from cbec.signing.xmldsig import SELF_CHECK, SigningError, _sign, check_outbound, parse, sign_document, verify_document
from ceb_samples import samples_dir
from lxml import etree
from signer_service.application import SignerApp

TENANT = "1101180326"  # the copCode in the official samples' BaseTransfer
DS = "{http://www.w3.org/2000/09/xmldsig#}"


class SignsWithAnotherKey:
    """A backend whose key does not match the certificate it presents (a mixed-up HSM slot)."""

    def __init__(self, presented: SigningKey, actual: SigningKey) -> None:
        self.algorithm: Algorithm = presented.algorithm
        self.certificate_der = presented.certificate_der
        self.serial_hex = presented.serial_hex
        self._actual = actual

    def sign(self, data: bytes) -> bytes:
        return self._actual.sign(data)


def fresh_key(algorithm: Algorithm) -> SigningKey:
    """A key whose certificate the process has not signed with yet (its first signature is checked)."""
    make = generate_sm2_identity if algorithm == "SM2" else generate_rsa_identity
    return load_software_key(*make(TENANT, "x"))


def order() -> bytes:
    return (samples_dir() / "import" / "CEB311Message.xml").read_bytes()


@pytest.mark.parametrize("algorithm", ["SM2", "RSA"])
def test_a_key_that_does_not_match_its_certificate_signs_nothing(algorithm: Algorithm) -> None:
    mixed_up = SignsWithAnotherKey(fresh_key(algorithm), fresh_key(algorithm))
    with pytest.raises(SigningError) as refused:
        sign_document(order(), mixed_up)
    assert refused.value.code == SELF_CHECK
    assert "does not verify with the certificate" in str(refused.value)


@pytest.mark.parametrize("profile", ["spec-2022", "eport-client", "hsm-digest-value"])
def test_the_outbound_bytes_pass_and_any_re_serialisation_that_changes_them_is_caught(profile: str) -> None:
    key = fresh_key("RSA")
    doc = order().replace(b"<ceb:Order>", b"<!-- from the ERP --><ceb:Order>", 1)
    out, sent = _sign(parse(doc), key, get_profile(profile))
    check_outbound(out, sent)  # what the signer returns
    assert verify_document(out, profile=profile).ok

    root = etree.fromstring(out)
    compacted = etree.tostring(etree.fromstring(out, etree.XMLParser(remove_blank_text=True)))  # indentation gone
    no_comments = etree.tostring(etree.fromstring(out, etree.XMLParser(remove_comments=True)))
    signature_value = root.find(f"{DS}Signature/{DS}SignatureValue")
    assert signature_value is not None
    signature_value.text = base64.b64encode(b"\0" * 256).decode()
    other_value = etree.tostring(root)
    for changed, why in [
        (compacted, "document changed in serialisation"),
        (other_value, "SignatureValue changed"),
        (b"<truncated", "not well-formed"),
    ] + ([(no_comments, "document changed")] if profile != "spec-2022" else []):
        with pytest.raises(SigningError) as refused:
            check_outbound(changed, sent)
        assert refused.value.code == SELF_CHECK
        assert why in str(refused.value)


def test_a_failed_self_check_is_a_signing_error_not_a_signed_document() -> None:
    registry = CertificateRegistry()
    registry.register(TENANT, SignsWithAnotherKey(fresh_key("SM2"), fresh_key("SM2")))
    app = SignerApp(registry)
    result = app.handle(SignRequest.for_xml("r1", TENANT, "CEB311", "ebp:order-1", order()))
    assert not result.ok and result.signed_xml_b64 is None
    assert result.error is not None and result.error.code == SELF_CHECK
    assert app.metrics.errors == {SELF_CHECK: 1}
