"""PKCS#11 key backend (python-pkcs11): the private key stays in the token, only ``C_Sign`` is used.

Rules learnt on SoftHSM2 (``crypto.md`` §6):

- python-pkcs11 calls ``C_Initialize(NULL)``, which tells the module the application will not call
  it from several threads at once; SoftHSM2 then disables its locking and crashes under threads.
  Every call into one module is therefore serialized by a per-module process lock; scale with
  processes (replicas), one session each.
- Login state is per process: the first session logs in, later sessions of the same process
  reuse it (``UserAlreadyLoggedIn`` is expected and harmless).
- SoftHSM2 has no SM2 and *silently* makes ECDSA signatures on an SM2-curve EC key. SM2 therefore
  needs an explicit vendor mechanism code, and a new session proves itself by signing a probe that
  must verify as SM2 against the certificate before it is used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass

from cbec.signing.certs import certificate_der_from_pem_or_der, certificate_info, certificate_spki
from cbec.signing.keys import Algorithm, BackendUnavailable, verify_signature
from cbec.signing.sm2 import der_to_rs, public_point, sm2_prehash

CKM_SHA1_RSA_PKCS = 0x00000006
_PROBE = b"cbec-signer probe: the token must produce a verifiable signature"

# Errors after which the session (or the token link) is unusable and must be reopened.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    pkcs11.exceptions.SessionClosed,
    pkcs11.exceptions.SessionHandleInvalid,
    pkcs11.exceptions.DeviceRemoved,
    pkcs11.exceptions.DeviceError,
    pkcs11.exceptions.TokenNotPresent,
    pkcs11.exceptions.TokenNotRecognised,
    pkcs11.exceptions.UserNotLoggedIn,
    pkcs11.exceptions.GeneralError,
    pkcs11.exceptions.ObjectHandleInvalid,
    pkcs11.exceptions.KeyHandleInvalid,
    pkcs11.exceptions.FunctionFailed,
)


@dataclass(frozen=True, slots=True)
class Pkcs11Settings:
    """Where the key lives and how to sign with it.

    ``sm2_mechanism`` is the vendor ``CKM_*`` value for SM2 (not in OASIS PKCS#11; e.g. some vendors
    use ``0x80000000 | n`` — check the HSM manual). With ``sm2_input="prehash"`` the host computes
    e = SM3(Z‖M) and the mechanism signs those 32 bytes; with ``"message"`` the mechanism is
    SM3-with-SM2 over the data. ``sm2_output`` says whether the token returns ``r‖s`` or DER.
    """

    module: str
    token_label: str
    pin: str
    key_label: str
    algorithm: Algorithm = "RSA"
    certificate: bytes | None = None
    rsa_mechanism: int = CKM_SHA1_RSA_PKCS
    sm2_mechanism: int | None = None
    sm2_input: Literal["message", "prehash"] = "message"
    sm2_output: Literal["rs", "der"] = "rs"


_LIB_LOCK = threading.Lock()
_LIBS: dict[str, Any] = {}
_MODULE_LOCKS: dict[str, threading.RLock] = {}


def module_lock(module: str) -> threading.RLock:
    """The process-wide lock that serializes every call into one PKCS#11 module."""
    with _LIB_LOCK:
        return _MODULE_LOCKS.setdefault(module, threading.RLock())


def load_module(module: str) -> Any:
    with _LIB_LOCK:
        lib = _LIBS.get(module)
        if lib is None:
            lib = _LIBS[module] = pkcs11.lib(module)
        return lib


def reinitialize_module(module: str) -> None:
    """Finalize and re-initialize the module (tests: picks up a new ``SOFTHSM2_CONF``)."""
    lib = load_module(module)
    with module_lock(module):
        lib.reinitialize()


def mechanism(value: int) -> Mechanism:
    """A python-pkcs11 ``Mechanism`` for any value, including vendor codes outside the enum."""
    try:
        return Mechanism(value)
    except ValueError:
        pass
    member: Mechanism = int.__new__(Mechanism, value)
    member._name_ = f"VENDOR_{value:#010x}"
    member._value_ = value
    Mechanism._value2member_map_[value] = member
    return member


class Pkcs11Session:
    """One logged-in session on the token and the private-key handle found by label.

    Implements :class:`~cbec.signing.keys.SigningKey`. Not for concurrent use without the module lock
    (``sign`` takes it).
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._lock = module_lock(settings.module)
        self.algorithm: Algorithm = settings.algorithm
        if settings.algorithm == "SM2" and settings.sm2_mechanism is None:
            raise ValueError("SM2 on PKCS#11 needs the vendor sm2_mechanism code (SoftHSM2 has none)")
        self._closed = True  # until the session below is open
        with self._lock:
            try:
                lib = load_module(settings.module)
                token = lib.get_token(token_label=settings.token_label)
                try:
                    self._session = token.open(user_pin=settings.pin, rw=False)
                except pkcs11.exceptions.UserAlreadyLoggedIn:
                    self._session = token.open(rw=False)
            except pkcs11.exceptions.PKCS11Error as exc:
                raise BackendUnavailable(f"PKCS#11 session could not be opened: {exc!r}") from exc
            self._closed = False
        try:
            self._bind_key_and_certificate()
        except BaseException:
            self.close()  # never leak a logged-in session
            raise
        problem = self._probe_problem()
        if problem is not None:
            self.close()
            raise BackendUnavailable(f"token key {settings.key_label!r} rejected: {problem}")

    def _bind_key_and_certificate(self) -> None:
        settings = self._settings
        with self._lock:
            try:
                self._key = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=settings.key_label)
                cert = settings.certificate or self._token_certificate()
            except pkcs11.exceptions.PKCS11Error as exc:
                raise BackendUnavailable(f"PKCS#11 key {settings.key_label!r} not usable: {exc!r}") from exc
        self.certificate_der = certificate_der_from_pem_or_der(cert)
        info = certificate_info(self.certificate_der)
        if info.algorithm != settings.algorithm:
            raise ValueError(f"certificate holds an {info.algorithm} key, settings say {settings.algorithm}")
        self.serial_hex = info.serial_hex
        self._point = public_point(certificate_spki(self.certificate_der)) if settings.algorithm == "SM2" else b""

    def _token_certificate(self) -> bytes:
        for obj in self._session.get_objects(
            {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: self._settings.key_label}
        ):
            return bytes(obj[Attribute.VALUE])
        raise ValueError(f"no certificate given and none on the token with label {self._settings.key_label!r}")

    def sign(self, data: bytes) -> bytes:
        s = self._settings
        if s.algorithm == "RSA":
            payload, mech = data, mechanism(s.rsa_mechanism)
        else:
            assert s.sm2_mechanism is not None
            payload = sm2_prehash(self._point, data) if s.sm2_input == "prehash" else data
            mech = mechanism(s.sm2_mechanism)
        with self._lock:
            if self._closed:
                raise BackendUnavailable("PKCS#11 session is closed")
            try:
                signature = bytes(self._key.sign(payload, mechanism=mech))
            except _CONNECTION_ERRORS as exc:
                raise BackendUnavailable(f"PKCS#11 sign failed: {exc!r}") from exc
        if s.algorithm == "SM2" and s.sm2_output == "der":
            signature = der_to_rs(signature)
        return signature

    def probe(self) -> bool:
        """Sign a fixed probe and verify it with the certificate under the configured algorithm."""
        return self._probe_problem() is None

    def _probe_problem(self) -> str | None:
        try:
            signature = self.sign(_PROBE)
        except BackendUnavailable as exc:
            return str(exc)
        except pkcs11.exceptions.PKCS11Error as exc:  # e.g. MechanismInvalid for a wrong vendor code
            return f"sign failed: {exc!r}"
        except ValueError as exc:  # e.g. a DER signature that is not SM2-shaped
            return f"unusable signature: {exc}"
        if not verify_signature(self.algorithm, self.certificate_der, _PROBE, signature):
            return f"its signatures do not verify as {self.algorithm} against the certificate"
        return None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._session.close()
            except pkcs11.exceptions.PKCS11Error:
                pass  # a lost session cannot be closed twice; nothing else to release

    def __repr__(self) -> str:
        return f"Pkcs11Session(token={self._settings.token_label!r}, key={self._settings.key_label!r})"
