"""The conformance suite every :class:`SigningKey` backend must pass.

Subclass :class:`SigningKeyContract` in a test module as ``TestXxx`` and provide a ``key`` fixture;
pytest then runs every ``test_*`` method against that backend. Signatures are checked with
independent code: SM2 with the pure-Python ``gmssl`` (so an ECDSA-on-the-SM2-curve signature, the
SoftHSM2 trap, fails), RSA with ``cryptography``.
"""

from __future__ import annotations

import threading

from cbec.signing.certs import certificate_info, certificate_spki
from cbec.signing.keys import SigningKey, verify_signature
from cbec.signing.sm2 import public_point, sm2_prehash

_MESSAGE = '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">签名</ds:SignedInfo>'.encode()


def verifies_as_sm2_independently(certificate_der: bytes, data: bytes, rs: bytes) -> bool:
    """SM3withSM2 (id 1234567812345678) check with the pure-Python gmssl, not OpenSSL."""
    from gmssl import sm2 as gm_sm2

    if len(rs) != 64:
        return False
    point = public_point(certificate_spki(certificate_der))
    crypt = gm_sm2.CryptSM2(private_key="", public_key="")
    crypt.public_key = point[1:].hex()  # gmssl's constructor lstrip("04") mangles some keys
    return bool(crypt.verify(rs.hex(), sm2_prehash(point, data)))


def signature_is_valid(key: SigningKey, data: bytes, signature: bytes) -> bool:
    if key.algorithm == "SM2":
        return verifies_as_sm2_independently(key.certificate_der, data, signature)
    return verify_signature("RSA", key.certificate_der, data, signature)


class SigningKeyContract:
    """Behaviour shared by all key backends (provide a ``key`` fixture in the subclass)."""

    def test_identity_comes_from_the_certificate(self, key: SigningKey) -> None:
        info = certificate_info(key.certificate_der)
        assert key.algorithm == info.algorithm
        assert key.serial_hex == info.serial_hex
        assert key.serial_hex == key.serial_hex.lower()
        int(key.serial_hex, 16)

    def test_signature_verifies_with_an_independent_implementation(self, key: SigningKey) -> None:
        signature = key.sign(_MESSAGE)
        if key.algorithm == "SM2":
            assert len(signature) == 64
        assert signature_is_valid(key, _MESSAGE, signature)

    def test_signature_does_not_verify_for_other_data(self, key: SigningKey) -> None:
        signature = key.sign(_MESSAGE)
        assert not signature_is_valid(key, _MESSAGE + b" ", signature)

    def test_empty_and_large_inputs_sign(self, key: SigningKey) -> None:
        for data in (b"", bytes(range(256)) * 2048):
            assert signature_is_valid(key, data, key.sign(data))

    def test_concurrent_callers_all_get_valid_signatures(self, key: SigningKey) -> None:
        results: list[tuple[bytes, bytes]] = []
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(10):
                    data = f"{n}-{i}".encode()
                    results.append((data, key.sign(data)))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(results) == 40
        assert all(signature_is_valid(key, data, sig) for data, sig in results)

    def test_signed_document_verifies(self, key: SigningKey) -> None:
        from cbec.signing.xmldsig import sign_document, verify_document
        from ceb_samples import samples_dir

        xml = (samples_dir() / "import" / "CEB621Message.xml").read_bytes()
        result = verify_document(sign_document(xml, key))
        assert result.ok, result.reason
        assert (result.algorithm, result.serial_hex) == (key.algorithm, key.serial_hex)
