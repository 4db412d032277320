"""Every software key backend passes the shared SigningKey conformance suite (PKCS#11: integration)."""

from __future__ import annotations

import pytest
from cbec.signing.keys import SigningKey, SoftwareRSAKey
from cbec.signing.pool import KeyPool
from cbec.signing.sm2 import SoftwareSM2Key
from key_backend_contract import SigningKeyContract


class TestSoftwareSM2Key(SigningKeyContract):
    @pytest.fixture
    def key(self, sm2_key: SoftwareSM2Key) -> SigningKey:
        return sm2_key


class TestSoftwareRSAKey(SigningKeyContract):
    @pytest.fixture
    def key(self, rsa_key: SoftwareRSAKey) -> SigningKey:
        return rsa_key


class TestKeyPoolOverSoftwareSM2(SigningKeyContract):
    @pytest.fixture
    def key(self, sm2_key: SoftwareSM2Key) -> SigningKey:
        return KeyPool(lambda: sm2_key, size=3)


def _ecdsa_on_sm2_curve(private_key: int, data: bytes) -> bytes:
    """ECDSA (SHA-256) over the SM2 curve: what SoftHSM2 silently returns for an SM2-curve EC key."""
    import hashlib
    import secrets

    from gmssl import sm2 as gm_sm2

    crypt = gm_sm2.CryptSM2(private_key="", public_key="")
    n = int(crypt.ecc_table["n"], 16)
    h = int.from_bytes(hashlib.sha256(data).digest(), "big")
    while True:
        k = secrets.randbelow(n - 1) + 1
        r = int(crypt._kg(k, crypt.ecc_table["g"])[:64], 16) % n
        s = pow(k, -1, n) * (h + r * private_key) % n
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _ecdsa_verify_on_sm2_curve(point: bytes, data: bytes, rs: bytes) -> bool:
    import hashlib

    from gmssl import sm2 as gm_sm2

    crypt = gm_sm2.CryptSM2(private_key="", public_key="")
    n = int(crypt.ecc_table["n"], 16)
    r, s = int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")
    h = int.from_bytes(hashlib.sha256(data).digest(), "big")
    w = pow(s, -1, n)
    p1 = crypt._kg(h * w % n, crypt.ecc_table["g"])
    p2 = crypt._kg(r * w % n, point[1:].hex())
    total = crypt._convert_jacb_to_nor(crypt._add_point(f"{p1}1", p2))
    return int(total[:64], 16) % n == r


def test_the_conformance_check_rejects_ecdsa_on_the_sm2_curve(
    sm2_key: SoftwareSM2Key, sm2_identity: tuple[bytes, bytes]
) -> None:
    from asn1crypto import keys as akeys
    from asn1crypto import pem as apem
    from key_backend_contract import verifies_as_sm2_independently

    _, _, der = apem.unarmor(sm2_identity[0])
    d = akeys.PrivateKeyInfo.load(der)["private_key"].parsed["private_key"].native
    ecdsa = _ecdsa_on_sm2_curve(d, b"data")
    assert len(ecdsa) == 64
    assert _ecdsa_verify_on_sm2_curve(sm2_key.public_point, b"data", ecdsa)  # a genuine ECDSA signature
    assert not verifies_as_sm2_independently(sm2_key.certificate_der, b"data", ecdsa)
    assert verifies_as_sm2_independently(sm2_key.certificate_der, b"data", sm2_key.sign(b"data"))
