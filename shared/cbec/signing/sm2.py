"""Software SM2 (SM3withSM2) on the system OpenSSL 3, with the GM/T 0009 default user id.

CEB carries SM2 signatures as raw 64-byte ``r‖s``; OpenSSL speaks DER, so this module converts.
OpenSSL 3.0's own default distinguishing id is *empty*, which does not interoperate: the id is
always set explicitly here.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from cbec.signing import _libcrypto as lc
from cbec.signing.certs import certificate_der_from_pem_or_der, certificate_serial_hex

DEFAULT_SM2_ID = b"1234567812345678"

# SM2 curve parameters (GB/T 32918.5) as they enter Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA).
_CURVE_ABG = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)


class NotAnSM2Key(ValueError):
    """The key is not an SM2 key (e.g. an ECDSA key on the SM2 curve, or RSA)."""


def der_to_rs(der: bytes) -> bytes:
    """DER ``SEQUENCE{INTEGER r, INTEGER s}`` → 64-byte ``r‖s``."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("not a short-form DER SEQUENCE of two INTEGERs")
    out = b""
    i = 2
    for _ in range(2):
        if der[i] != 0x02:
            raise ValueError("expected DER INTEGER")
        n = der[i + 1]
        value = der[i + 2 : i + 2 + n].lstrip(b"\0")
        if len(value) > 32:
            raise ValueError("SM2 signature component longer than 32 bytes")
        out += value.rjust(32, b"\0")
        i += 2 + n
    if i != len(der):
        raise ValueError("trailing bytes after DER signature")
    return out


def rs_to_der(rs: bytes) -> bytes:
    """64-byte ``r‖s`` → DER ``SEQUENCE{INTEGER r, INTEGER s}``."""
    if len(rs) != 64:
        raise ValueError(f"SM2 r‖s signature must be 64 bytes, got {len(rs)}")

    def integer(x: bytes) -> bytes:
        x = x.lstrip(b"\0") or b"\0"
        if x[0] & 0x80:
            x = b"\0" + x
        return b"\x02" + bytes([len(x)]) + x

    body = integer(rs[:32]) + integer(rs[32:])
    return b"\x30" + bytes([len(body)]) + body


def public_point(spki_der: bytes) -> bytes:
    """The uncompressed point ``04‖X‖Y`` at the end of an SM2 SubjectPublicKeyInfo."""
    point = spki_der[-65:]
    if point[0] != 0x04:
        raise ValueError("expected an uncompressed EC point at the end of the SPKI")
    return point


def z_value(point: bytes, ident: bytes = DEFAULT_SM2_ID) -> bytes:
    """Z_A of GB/T 32918.2 for the public point ``04‖X‖Y``; cache it per key."""
    entl = (len(ident) * 8).to_bytes(2, "big")
    return hashlib.new("sm3", entl + ident + _CURVE_ABG + point[1:]).digest()


def sm2_prehash(point: bytes, data: bytes, ident: bytes = DEFAULT_SM2_ID) -> bytes:
    """e = SM3(Z‖M): the 32 bytes an HSM that signs a pre-hash must receive."""
    return hashlib.new("sm3", z_value(point, ident) + data).digest()


def _public_key(pub_or_cert: bytes) -> lc.PKey:
    stripped = pub_or_cert.lstrip()
    if stripped.startswith(b"-----BEGIN CERTIFICATE"):
        return lc.load_certificate_public_key(certificate_der_from_pem_or_der(stripped))
    if stripped.startswith(b"-----BEGIN PUBLIC KEY"):
        return lc.load_public_pem(stripped)
    try:
        return lc.load_certificate_public_key(pub_or_cert)
    except lc.OpenSSLError:
        return lc.load_public_der(pub_or_cert)


class SoftwareSM2Key:
    """An SM2 private key held in process memory; :meth:`sign` is thread-safe and releases the GIL."""

    algorithm: Literal["SM2"] = "SM2"

    def __init__(self, key: lc.PKey, certificate_der: bytes, ident: bytes = DEFAULT_SM2_ID) -> None:
        if not key.is_sm2():
            raise NotAnSM2Key("private key is not an SM2 key")
        cert_key = lc.load_certificate_public_key(certificate_der)
        if cert_key.spki_der() != key.spki_der():
            raise ValueError("private key does not match the certificate")
        self._key = key
        self._ident = ident
        self.certificate_der = certificate_der
        self.serial_hex = certificate_serial_hex(certificate_der)
        self.public_point = public_point(key.spki_der())

    @classmethod
    def from_pem(
        cls, key_pem: bytes, cert_pem: bytes, ident: bytes = DEFAULT_SM2_ID, *, password: bytes | None = None
    ) -> SoftwareSM2Key:
        """From a PEM private key (PKCS#8, SEC1, or encrypted PKCS#8 with ``password``) and a certificate."""
        return cls(lc.load_private_pem(key_pem, password), certificate_der_from_pem_or_der(cert_pem), ident)

    @classmethod
    def from_der(cls, key_der: bytes, cert: bytes, ident: bytes = DEFAULT_SM2_ID) -> SoftwareSM2Key:
        return cls(lc.load_private_der(key_der), certificate_der_from_pem_or_der(cert), ident)

    def sign(self, data: bytes) -> bytes:
        """SM3withSM2 over ``data``; 64-byte ``r‖s``."""
        return der_to_rs(lc.sm2_sign_der(self._key, data, self._ident))

    def sign_der(self, data: bytes) -> bytes:
        return lc.sm2_sign_der(self._key, data, self._ident)

    def __repr__(self) -> str:
        return f"SoftwareSM2Key(serial={self.serial_hex})"


def sm2_verify(pub_or_cert: bytes, data: bytes, sig: bytes, ident: bytes = DEFAULT_SM2_ID) -> bool:
    """Verify an SM3withSM2 signature (64-byte ``r‖s`` or DER) against a certificate or public key.

    ``pub_or_cert`` may be a certificate (PEM/DER) or a SubjectPublicKeyInfo (PEM/DER). A key that
    is not SM2 never verifies.
    """
    try:
        key = _public_key(pub_or_cert)
    except lc.OpenSSLError:
        return False
    if not key.is_sm2():
        return False
    try:
        der = rs_to_der(sig) if len(sig) == 64 else sig
    except ValueError:
        return False
    try:
        return lc.sm2_verify_der(key, data, der, ident)
    except lc.OpenSSLError:
        return False


def generate_sm2_private_pem() -> bytes:
    """A fresh SM2 private key as PKCS#8 PEM."""
    return lc.generate_sm2().private_pem()
