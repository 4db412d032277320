"""PKCS#11 backend on a real SoftHSM2 token (RSA-2048, CKM_SHA1_RSA_PKCS), one fresh token per test.

Needs SoftHSM2 (Debian ``softhsm2``). Skipped locally when absent; *fails* when ``CI=true`` or
``CBEC_REQUIRE_INTEGRATION=1``, so CI cannot pass without running it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cbec.signing.certs import generate_sm2_test_ca, issue_sm2_certificate, rsa_certificate_for_public_key
from cbec.signing.keys import BackendUnavailable, SigningKey
from cbec.signing.pool import KeyPool
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from key_backend_contract import SigningKeyContract, signature_is_valid

pytestmark = pytest.mark.integration

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
PIN = "1234-test-pin"
SO_PIN = "5678-test-so-pin"
LABEL = "cbec-test"
SM2_CURVE_PARAMS = bytes.fromhex("06082a811ccf5501822d")  # DER OID 1.2.156.10197.1.301


def _softhsm_module() -> str:
    env = os.environ.get("CBEC_PKCS11_MODULE")
    found = next((p for p in ((env,) if env else ()) + _MODULE_CANDIDATES if os.path.exists(p)), None)
    if found is None or shutil.which("softhsm2-util") is None:
        message = "SoftHSM2 not found (apt-get install -y softhsm2)"
        if os.environ.get("CI", "").lower() in {"true", "1"} or os.environ.get("CBEC_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message + " [integration required]", pytrace=False)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Token:
    module: str
    label: str
    pin: str
    directory: Path


@pytest.fixture
def token(tmp_path: Path) -> Iterator[Token]:
    """A freshly initialised token in a per-test directory (SOFTHSM2_CONF points at it meanwhile).

    python-pkcs11 keeps one initialised module per process, so the module is re-initialised with the
    test's configuration and, afterwards, with whatever ``SOFTHSM2_CONF`` was before (other tests'
    token).
    """
    from cbec.signing.pkcs11 import reinitialize_module

    module = _softhsm_module()
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--so-pin", SO_PIN, "--pin", PIN],
            check=True,
            capture_output=True,
        )
        reinitialize_module(module)  # SoftHSM2 reads SOFTHSM2_CONF in C_Initialize
        yield Token(module, LABEL, PIN, tmp_path)
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
        try:
            reinitialize_module(module)
        except Exception:  # noqa: BLE001 - no usable previous configuration: the next user initialises it
            pass


def _admin_session(token: Token):  # type: ignore[no-untyped-def]
    from cbec.signing.pkcs11 import load_module

    return load_module(token.module).get_token(token_label=token.label).open(user_pin=token.pin, rw=True)


def _rsa_key_in_token(token: Token, key_label: str = "signer") -> bytes:
    """Generate RSA-2048 inside the token; return a CA-issued certificate (PEM) for its public key."""
    from pkcs11 import KeyType
    from pkcs11.util.rsa import encode_rsa_public_key

    with _admin_session(token) as session:
        public, _private = session.generate_keypair(KeyType.RSA, 2048, label=key_label, store=True)
        spki_pkcs1 = encode_rsa_public_key(public)
    public_key = serialization.load_der_public_key(_pkcs1_to_spki(spki_pkcs1))
    assert isinstance(public_key, rsa.RSAPublicKey)
    ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return rsa_certificate_for_public_key(public_key, "1101180326", "测试企业", ca)


def _pkcs1_to_spki(pkcs1: bytes) -> bytes:
    from asn1crypto import keys as akeys

    return bytes(
        akeys.PublicKeyInfo({"algorithm": {"algorithm": "rsa"}, "public_key": akeys.RSAPublicKey.load(pkcs1)}).dump()
    )


def _settings(token: Token, cert: bytes, **extra: object):  # type: ignore[no-untyped-def]
    from cbec.signing.pkcs11 import Pkcs11Settings

    return Pkcs11Settings(
        module=token.module,
        token_label=token.label,
        pin=token.pin,
        key_label="signer",
        certificate=cert,
        **extra,  # type: ignore[arg-type]
    )


class TestPkcs11RsaSession(SigningKeyContract):
    @pytest.fixture
    def key(self, token: Token) -> Iterator[SigningKey]:
        from cbec.signing.pkcs11 import Pkcs11Session

        session = Pkcs11Session(_settings(token, _rsa_key_in_token(token)))
        yield session
        session.close()


class TestPkcs11RsaPool(SigningKeyContract):
    @pytest.fixture
    def key(self, token: Token) -> Iterator[SigningKey]:
        from cbec.signing.pkcs11 import Pkcs11Session

        settings = _settings(token, _rsa_key_in_token(token))
        pool = KeyPool(lambda: Pkcs11Session(settings), size=2)
        yield pool
        pool.close()


def test_certificate_can_come_from_the_token(token: Token) -> None:
    from asn1crypto import x509 as ax509
    from cbec.signing.certs import certificate_der_from_pem_or_der
    from cbec.signing.pkcs11 import Pkcs11Session
    from pkcs11 import Attribute, ObjectClass

    cert = _rsa_key_in_token(token)
    der = certificate_der_from_pem_or_der(cert)
    with _admin_session(token) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: 0,  # CKC_X_509
                Attribute.LABEL: "signer",
                Attribute.TOKEN: True,
                Attribute.VALUE: der,
                Attribute.SUBJECT: ax509.Certificate.load(der).subject.dump(),
            }
        )
    key = Pkcs11Session(_settings(token, None))  # type: ignore[arg-type]
    try:
        assert key.certificate_der == certificate_der_from_pem_or_der(cert)
        assert signature_is_valid(key, b"x", key.sign(b"x"))
    finally:
        key.close()


def test_a_session_lost_mid_load_loses_no_request(token: Token) -> None:
    from cbec.signing.pkcs11 import Pkcs11Session, module_lock

    settings = _settings(token, _rsa_key_in_token(token))
    sessions: list[Pkcs11Session] = []

    def connect() -> Pkcs11Session:
        sessions.append(Pkcs11Session(settings))
        return sessions[-1]

    pool = KeyPool(connect, size=2, retry_backoff=0)
    messages = [f"CEB621 #{i}".encode() for i in range(120)]
    signatures: dict[bytes, bytes] = {}
    half = threading.Event()
    yanked = threading.Event()

    def load() -> None:
        for i, message in enumerate(messages):
            signatures[message] = pool.sign(message)
            if i == 40:
                half.set()
                yanked.wait(timeout=30)  # the rest of the load runs on the dead sessions

    worker = threading.Thread(target=load)
    worker.start()
    assert half.wait(timeout=30)
    with module_lock(token.module):  # yank both sessions out from under the pool, as a token reset would
        for session in list(sessions):
            session._session.close()
    yanked.set()
    worker.join(timeout=60)
    assert len(signatures) == len(messages)
    assert all(signature_is_valid(pool, m, s) for m, s in signatures.items())
    assert pool.stats().reconnects >= 1
    # The idle session the load never touched is still dead: a health round finds it, the next has it back.
    assert pool.health_check() == 1
    assert pool.health_check() == 2
    pool.close()


def test_an_sm2_curve_ec_key_making_ecdsa_is_refused_as_not_sm2(token: Token) -> None:
    """SoftHSM2 happily signs with CKM_ECDSA on an SM2-curve key: the result must not pass as SM2."""
    from asn1crypto import core as acore
    from asn1crypto import keys as akeys
    from cbec.signing.pkcs11 import Pkcs11Session
    from pkcs11 import Attribute, KeyType

    with _admin_session(token) as session:
        public, _ = session.generate_keypair(
            KeyType.EC, public_template={Attribute.EC_PARAMS: SM2_CURVE_PARAMS}, label="signer", store=True
        )
        point = acore.OctetString.load(public[Attribute.EC_POINT]).native
    spki = akeys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": ("named", "1.2.156.10197.1.301")},
            "public_key": point,
        }
    ).dump()
    cert = issue_sm2_certificate(bytes(spki), "1101180326", "测试企业", generate_sm2_test_ca())
    ckm_ecdsa = 0x1041
    with pytest.raises(BackendUnavailable, match="do not verify as SM2"):
        Pkcs11Session(_settings(token, cert, algorithm="SM2", sm2_mechanism=ckm_ecdsa, sm2_input="prehash"))


def test_a_vendor_sm2_mechanism_code_reaches_the_token(token: Token) -> None:
    from cbec.signing.pkcs11 import Pkcs11Session, mechanism

    vendor = 0x80000000 | 0x8001
    assert int(mechanism(vendor)) == vendor
    cert = _rsa_key_in_token(token)
    with pytest.raises(BackendUnavailable, match="MechanismInvalid"):
        Pkcs11Session(_settings(token, cert, rsa_mechanism=vendor))


def test_sm2_without_a_vendor_mechanism_is_a_configuration_error(token: Token) -> None:
    from cbec.signing.pkcs11 import Pkcs11Session

    with pytest.raises(ValueError, match="vendor"):
        Pkcs11Session(_settings(token, b"", algorithm="SM2"))


def test_a_missing_key_label_is_reported_and_the_session_released(token: Token) -> None:
    from cbec.signing.pkcs11 import Pkcs11Session, Pkcs11Settings

    cert = _rsa_key_in_token(token)
    missing = Pkcs11Settings(token.module, token.label, token.pin, key_label="nope", certificate=cert)
    with pytest.raises(BackendUnavailable, match="not usable"):
        Pkcs11Session(missing)
    session = Pkcs11Session(_settings(token, cert))  # a fresh login still works: nothing was left open
    assert signature_is_valid(session, b"x", session.sign(b"x"))
    session.close()


def test_a_wrong_pin_is_a_backend_error(token: Token) -> None:
    from cbec.signing.pkcs11 import Pkcs11Session, Pkcs11Settings

    cert = _rsa_key_in_token(token)
    with pytest.raises(BackendUnavailable, match="PinIncorrect"):
        Pkcs11Session(Pkcs11Settings(token.module, token.label, "0000", key_label="signer", certificate=cert))
