"""X.509 certificates: reading the facts the signer needs, and minting SM2/RSA test identities.

SM2 certificates are built with ``asn1crypto`` and signed SM2-with-SM3 (id ``1234567812345678``) on
the system OpenSSL, because ``cryptography`` has no SM2. The certificate holder's customs code is
written to the subject ``OU`` (the E-Port's own layout is proprietary; the registry binds codes to
certificates explicitly, so the OU is informational).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import keys as akeys
from asn1crypto import pem as apem
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cbec.signing import _libcrypto as lc

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
_SM2_CERT_ID = b"1234567812345678"

Algorithm = Literal["SM2", "RSA"]


class CertificateError(ValueError):
    """The bytes are not a certificate this signer can use."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    der: bytes
    serial_hex: str  # the KeyName as the E-Port writes it (see :func:`key_name`)
    serial_number: int
    algorithm: Algorithm
    not_before: datetime
    not_after: datetime
    subject: str
    holder_code: str | None

    def expired(self, at: datetime) -> bool:
        return at >= self.not_after

    def not_yet_valid(self, at: datetime) -> bool:
        return at < self.not_before


_B64_BODY = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def certificate_der_from_pem_or_der(data: bytes) -> bytes:
    """Certificate DER from PEM, bare base64 text (as some ``sign.cer`` files are) or DER."""
    if data[:1] == b"\x30":
        return data  # DER: never strip, trailing bytes may look like whitespace
    stripped = data.strip()
    if apem.detect(stripped):
        _, _, der = apem.unarmor(stripped)
        return bytes(der)
    if _B64_BODY.match(stripped):
        try:
            return base64.b64decode(b"".join(stripped.split()), validate=True)
        except ValueError as exc:
            raise CertificateError("certificate text is neither PEM nor base64") from exc
    raise CertificateError("certificate is neither DER, PEM nor base64 text")


def certificate_pem(der: bytes) -> bytes:
    return bytes(apem.armor("CERTIFICATE", der))


def _load(cert: bytes) -> ax509.Certificate:
    der = certificate_der_from_pem_or_der(cert)
    try:
        parsed = ax509.Certificate.load(der)
        parsed.native  # noqa: B018 - force a full parse so malformed input fails here
    except Exception as exc:  # asn1crypto raises ValueError/TypeError variants
        raise CertificateError(f"not an X.509 certificate: {exc}") from exc
    return parsed


def key_name(serial: int) -> str:
    """A certificate serial as the E-Port client writes ``ds:KeyName``: its bytes in lowercase hex.

    The serial's minimal big-endian bytes, two digits each, so the text always has even length and
    keeps a leading zero nibble: ``0x1691fe9`` → ``01691fe9``, an SM2 card's ``03000000000cde6f``.
    """
    if serial < 0:  # not allowed by RFC 5280, but seen in broken certificates: its two's complement
        return serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True).hex()
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big").hex()


def serial_from_key_name(text: str | None) -> int | None:
    """The serial a ``KeyName`` names, read as a hex number (any case, odd length, leading zeros);
    ``None`` when the text is not hex (then it names no serial)."""
    digits = (text or "").strip()
    if not digits or len(digits) > 128 or any(c not in _HEX_DIGITS for c in digits):
        return None
    return int(digits, 16)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def certificate_serial_hex(cert: bytes) -> str:
    """The certificate's serial as the CEB ``KeyName`` (E-Port form, see :func:`key_name`)."""
    return key_name(_load(cert).serial_number)


def certificate_spki(cert: bytes) -> bytes:
    """The certificate's SubjectPublicKeyInfo, DER."""
    return bytes(_load(cert)["tbs_certificate"]["subject_public_key_info"].dump())


def _algorithm(spki: akeys.PublicKeyInfo) -> Algorithm:
    algo = spki["algorithm"]["algorithm"].dotted
    if algo == "1.2.840.113549.1.1.1":
        return "RSA"
    if algo == "1.2.840.10045.2.1":
        params = spki["algorithm"]["parameters"]
        if params.name == "named" and params.chosen.dotted == SM2_CURVE_OID:
            return "SM2"
    raise CertificateError(f"unsupported public key algorithm {algo}")


def certificate_info(cert: bytes) -> CertificateInfo:
    parsed = _load(cert)
    tbs = parsed["tbs_certificate"]
    subject = tbs["subject"]
    holder = None
    for rdn in subject.chosen:
        for attr in rdn:
            if attr["type"].native == "organizational_unit_name":
                holder = str(attr["value"].native)
    return CertificateInfo(
        der=parsed.dump(),
        serial_hex=key_name(parsed.serial_number),
        serial_number=parsed.serial_number,
        algorithm=_algorithm(tbs["subject_public_key_info"]),
        not_before=tbs["validity"]["not_before"].native,
        not_after=tbs["validity"]["not_after"].native,
        subject=subject.human_friendly,
        holder_code=holder,
    )


def _asn1_time(at: datetime) -> ax509.Time:
    at = at.astimezone(UTC).replace(microsecond=0)
    return ax509.Time(name="utc_time" if at.year < 2050 else "general_time", value=at)


def _name(holder_code: str, holder_name: str) -> ax509.Name:
    return ax509.Name.build(
        {
            "country_name": "CN",
            "organization_name": holder_name,
            "organizational_unit_name": holder_code,
            "common_name": holder_name,
        }
    )


def _sm2_certificate(
    subject: ax509.Name,
    spki_der: bytes,
    issuer_name: ax509.Name,
    issuer_key: lc.PKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
) -> bytes:
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    tbs = ax509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": SM2_WITH_SM3_OID},
            "issuer": issuer_name,
            "validity": {"not_before": _asn1_time(not_before), "not_after": _asn1_time(not_after)},
            "subject": subject,
            "subject_public_key_info": akeys.PublicKeyInfo.load(spki_der),
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
                {"extn_id": "key_usage", "critical": True, "extn_value": usage},
            ],
        }
    )
    signature = lc.sm2_sign_der(issuer_key, tbs.dump(), _SM2_CERT_ID)
    cert = ax509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3_OID},
            "signature_value": signature,
        }
    )
    return bytes(cert.dump())


def _window(days: int, not_before: datetime | None) -> tuple[datetime, datetime]:
    start = not_before or (datetime.now(UTC) - timedelta(minutes=5))
    return start, start + timedelta(days=days)


def _serial() -> int:
    return secrets.randbits(63) | (1 << 62)


def generate_sm2_identity(
    holder_code: str,
    holder_name: str,
    days: int = 365,
    *,
    issuer: tuple[bytes, bytes] | None = None,
    not_before: datetime | None = None,
    serial: int | None = None,
) -> tuple[bytes, bytes]:
    """A fresh SM2 key and an SM2-with-SM3 certificate: ``(key PEM, certificate PEM)``.

    Self-signed unless ``issuer=(ca_key_pem, ca_cert_pem)`` is given. ``not_before`` in the past
    with a small ``days`` makes an expired certificate for tests.
    """
    key = lc.generate_sm2()
    start, end = _window(days, not_before)
    subject = _name(holder_code, holder_name)
    if issuer is None:
        issuer_key, issuer_name = key, subject
    else:
        issuer_key = lc.load_private_pem(issuer[0])
        issuer_name = _load(issuer[1])["tbs_certificate"]["subject"]
    der = _sm2_certificate(
        subject,
        key.spki_der(),
        issuer_name,
        issuer_key,
        serial=serial if serial is not None else _serial(),
        not_before=start,
        not_after=end,
        ca=False,
    )
    return key.private_pem(), certificate_pem(der)


def issue_sm2_certificate(
    spki_der: bytes,
    holder_code: str,
    holder_name: str,
    issuer: tuple[bytes, bytes],
    days: int = 365,
) -> bytes:
    """A CA-signed certificate (PEM) for an SM2 public key whose private half lives elsewhere (an HSM)."""
    start, end = _window(days, None)
    der = _sm2_certificate(
        _name(holder_code, holder_name),
        spki_der,
        _load(issuer[1])["tbs_certificate"]["subject"],
        lc.load_private_pem(issuer[0]),
        serial=_serial(),
        not_before=start,
        not_after=end,
        ca=False,
    )
    return certificate_pem(der)


def generate_sm2_test_ca(name: str = "cbec test CA", days: int = 3650) -> tuple[bytes, bytes]:
    """A self-signed SM2 CA for issuing test identities: ``(key PEM, certificate PEM)``."""
    key = lc.generate_sm2()
    start, end = _window(days, None)
    subject = ax509.Name.build({"country_name": "CN", "common_name": name})
    der = _sm2_certificate(
        subject, key.spki_der(), subject, key, serial=_serial(), not_before=start, not_after=end, ca=True
    )
    return key.private_pem(), certificate_pem(der)


def generate_rsa_identity(
    holder_code: str,
    holder_name: str,
    days: int = 365,
    *,
    key_size: int = 2048,
    not_before: datetime | None = None,
    serial: int | None = None,
) -> tuple[bytes, bytes]:
    """A fresh RSA key and a self-signed SHA-256 certificate: ``(key PEM, certificate PEM)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    start, end = _window(days, not_before)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, holder_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, holder_code),
            x509.NameAttribute(NameOID.COMMON_NAME, holder_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else _serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def rsa_certificate_for_public_key(
    public_key: rsa.RSAPublicKey,
    holder_code: str,
    holder_name: str,
    signer: rsa.RSAPrivateKey,
    days: int = 365,
) -> bytes:
    """A certificate (PEM) for a public key whose private half lives elsewhere (e.g. in an HSM)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, holder_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, holder_code),
        ]
    )
    start, end = _window(days, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cbec test CA")]))
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
