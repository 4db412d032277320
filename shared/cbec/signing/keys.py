"""The one interface every key backend implements, the RSA software key, and key-file loading."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cbec.signing.certs import (
    CertificateError,
    certificate_der_from_pem_or_der,
    certificate_info,
    certificate_serial_hex,
    certificate_spki,
)

Algorithm = Literal["SM2", "RSA"]


class BackendUnavailable(RuntimeError):
    """The key backend (HSM session, token) is unreachable; the request may be retried elsewhere."""


@runtime_checkable
class SigningKey(Protocol):
    """A private key that signs CEB SignedInfo bytes; the private half may live in an HSM.

    ``sign`` computes the full signature over ``data``: SM3withSM2 with user id
    ``1234567812345678`` returning 64-byte ``r‖s``, or RSA PKCS#1 v1.5 with SHA-1.
    """

    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def certificate_der(self) -> bytes: ...

    @property
    def serial_hex(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class SoftwareRSAKey:
    """RSA PKCS#1 v1.5 SHA-1 with ``cryptography``; thread-safe."""

    algorithm: Literal["RSA"] = "RSA"

    def __init__(self, key: rsa.RSAPrivateKey, certificate_der: bytes) -> None:
        info = certificate_info(certificate_der)
        if info.algorithm != "RSA":
            raise CertificateError("certificate does not hold an RSA key")
        cert_pub = serialization.load_der_public_key(certificate_spki(certificate_der))
        if not isinstance(cert_pub, rsa.RSAPublicKey) or cert_pub.public_numbers() != (
            key.public_key().public_numbers()
        ):
            raise ValueError("private key does not match the certificate")
        self._key = key
        self.certificate_der = info.der
        self.serial_hex = info.serial_hex

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes, password: bytes | None = None) -> SoftwareRSAKey:
        key = serialization.load_pem_private_key(key_pem, password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("not an RSA private key")
        return cls(key, certificate_der_from_pem_or_der(cert_pem))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA1())

    def __repr__(self) -> str:
        return f"SoftwareRSAKey(serial={self.serial_hex})"


def verify_signature(algorithm: Algorithm, certificate: bytes, data: bytes, signature: bytes) -> bool:
    """Check ``signature`` over ``data`` with the certificate's public key under ``algorithm``."""
    der = certificate_der_from_pem_or_der(certificate)
    try:
        # A certificate from a hostile document may be large: only ordinary ones are kept.
        check = _public_verifier(algorithm, der) if len(der) <= 16_384 else _public_verifier.__wrapped__(algorithm, der)
    except (ValueError, TypeError, Exception):  # unreadable or unsupported keys never verify
        return False
    return check(data, signature)


@functools.lru_cache(maxsize=256)
def _public_verifier(algorithm: Algorithm, certificate_der: bytes) -> Callable[[bytes, bytes], bool]:
    """A verifier bound to the certificate's public key, loaded once: every signed message is checked
    before it leaves the signer, so loading the key per call would cost throughput."""
    if algorithm == "SM2":
        from cbec.signing import _libcrypto as lc
        from cbec.signing.sm2 import DEFAULT_SM2_ID, rs_to_der

        sm2_key = lc.load_certificate_public_key(certificate_der)
        if not sm2_key.is_sm2():
            return lambda data, signature: False

        def sm2(data: bytes, signature: bytes) -> bool:
            try:
                der = rs_to_der(signature) if len(signature) == 64 else signature
                return lc.sm2_verify_der(sm2_key, data, der, DEFAULT_SM2_ID)
            except (ValueError, lc.OpenSSLError):
                return False

        return sm2
    public = serialization.load_der_public_key(certificate_spki(certificate_der))
    if not isinstance(public, rsa.RSAPublicKey):
        return lambda data, signature: False
    rsa_key = public

    def rsa_sha1(data: bytes, signature: bytes) -> bool:
        try:
            rsa_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA1())
        except InvalidSignature:
            return False
        return True

    return rsa_sha1


def load_software_key(key_pem: bytes, cert: bytes, password: bytes | None = None) -> SigningKey:
    """A software key for the certificate's algorithm (SM2 via OpenSSL, RSA via ``cryptography``)."""
    der = certificate_der_from_pem_or_der(cert)
    algorithm = certificate_info(der).algorithm
    if algorithm == "SM2":
        from cbec.signing.sm2 import SoftwareSM2Key

        if key_pem.lstrip().startswith(b"-----"):
            return SoftwareSM2Key.from_pem(key_pem, der, password=password)
        return SoftwareSM2Key.from_der(key_pem, der)
    if key_pem.lstrip().startswith(b"-----"):
        return SoftwareRSAKey.from_pem(key_pem, der, password)
    key = serialization.load_der_private_key(key_pem, password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return SoftwareRSAKey(key, der)


def load_key_files(key_path: Path | str, cert_path: Path | str, password: bytes | None = None) -> SigningKey:
    """Load a key pair from files: PEM pairs, or the E-Port issue (``sign.cer`` + private key).

    ``sign.cer`` may be DER, PEM or bare base64 text; the private key PEM (PKCS#8/SEC1, optionally
    encrypted with ``password``) or DER.
    """
    return load_software_key(Path(key_path).read_bytes(), Path(cert_path).read_bytes(), password)


__all__ = [
    "Algorithm",
    "BackendUnavailable",
    "SigningKey",
    "SoftwareRSAKey",
    "certificate_serial_hex",
    "load_key_files",
    "load_software_key",
    "verify_signature",
]
