"""Thin ctypes binding to the system OpenSSL 3 ``libcrypto`` for SM2/SM3 (sign, verify, keygen).

Only what the signer needs is bound. Every failing call drains the OpenSSL error queue into the
raised :class:`OpenSSLError` so a stale error never leaks into the next call. ``ctypes.CDLL`` releases
the GIL around each foreign call, so signing threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from typing import Any

_vp = ctypes.c_void_p
_cp = ctypes.c_char_p
_sz = ctypes.c_size_t
_int = ctypes.c_int


class OpenSSLError(RuntimeError):
    """A libcrypto call failed; the message holds the drained error queue."""


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypto") or "libcrypto.so.3"
    lib = ctypes.CDLL(name)
    if lib.OpenSSL_version_num() >> 28 < 3:
        raise OpenSSLError(f"{name} is not OpenSSL 3")
    return lib


_L = _load()

_SIGNATURES: list[tuple[str, Any, list[Any]]] = [
    ("OpenSSL_version_num", ctypes.c_ulong, []),
    ("BIO_new_mem_buf", _vp, [_cp, _int]),
    ("BIO_new", _vp, [_vp]),
    ("BIO_s_mem", _vp, []),
    ("BIO_ctrl", ctypes.c_long, [_vp, _int, ctypes.c_long, _vp]),
    ("BIO_free", _int, [_vp]),
    ("PEM_read_bio_PrivateKey", _vp, [_vp, _vp, _vp, _vp]),
    ("PEM_read_bio_PUBKEY", _vp, [_vp, _vp, _vp, _vp]),
    ("PEM_write_bio_PrivateKey", _int, [_vp, _vp, _vp, _vp, _int, _vp, _vp]),
    ("d2i_AutoPrivateKey", _vp, [_vp, ctypes.POINTER(_cp), ctypes.c_long]),
    ("d2i_PUBKEY", _vp, [_vp, ctypes.POINTER(_cp), ctypes.c_long]),
    ("i2d_PUBKEY", _int, [_vp, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]),
    ("d2i_X509", _vp, [_vp, ctypes.POINTER(_cp), ctypes.c_long]),
    ("X509_get_pubkey", _vp, [_vp]),
    ("X509_free", None, [_vp]),
    ("CRYPTO_free", None, [_vp, _cp, _int]),
    ("EVP_PKEY_free", None, [_vp]),
    ("EVP_PKEY_is_a", _int, [_vp, _cp]),
    ("EVP_PKEY_CTX_new_from_name", _vp, [_vp, _cp, _cp]),
    ("EVP_PKEY_CTX_free", None, [_vp]),
    ("EVP_PKEY_keygen_init", _int, [_vp]),
    ("EVP_PKEY_generate", _int, [_vp, ctypes.POINTER(_vp)]),
    ("EVP_MD_CTX_new", _vp, []),
    ("EVP_MD_CTX_free", None, [_vp]),
    ("EVP_sm3", _vp, []),
    ("EVP_DigestSignInit", _int, [_vp, ctypes.POINTER(_vp), _vp, _vp, _vp]),
    ("EVP_DigestVerifyInit", _int, [_vp, ctypes.POINTER(_vp), _vp, _vp, _vp]),
    ("EVP_PKEY_CTX_set1_id", _int, [_vp, _cp, _int]),
    ("EVP_DigestSign", _int, [_vp, _cp, ctypes.POINTER(_sz), _cp, _sz]),
    ("EVP_DigestVerify", _int, [_vp, _cp, _sz, _cp, _sz]),
    ("ERR_get_error", ctypes.c_ulong, []),
    ("ERR_error_string_n", None, [ctypes.c_ulong, _cp, _sz]),
    ("ERR_clear_error", None, []),
]
for _name, _res, _args in _SIGNATURES:
    _fn = getattr(_L, _name)
    _fn.restype = _res
    _fn.argtypes = _args

_BIO_CTRL_INFO = 3  # BIO_get_mem_data(b, pp) is BIO_ctrl(b, BIO_CTRL_INFO, 0, pp)
_SM3 = _L.EVP_sm3()


def _drain(what: str) -> OpenSSLError:
    messages = []
    while (code := _L.ERR_get_error()) != 0:
        buf = ctypes.create_string_buffer(256)
        _L.ERR_error_string_n(code, buf, 256)
        messages.append(buf.value.decode(errors="replace"))
    return OpenSSLError(f"{what}: {'; '.join(messages) or 'no OpenSSL detail'}")


class PKey:
    """Owns one ``EVP_PKEY*``; freed when the object is collected."""

    __slots__ = ("_ptr", "__weakref__")

    def __init__(self, ptr: int) -> None:
        self._ptr = ptr
        weakref.finalize(self, _L.EVP_PKEY_free, ptr)

    @property
    def ptr(self) -> int:
        return self._ptr

    def is_sm2(self) -> bool:
        return bool(_L.EVP_PKEY_is_a(self._ptr, b"SM2"))

    def spki_der(self) -> bytes:
        out = ctypes.POINTER(ctypes.c_ubyte)()
        n = _L.i2d_PUBKEY(self._ptr, ctypes.byref(out))
        if n <= 0:
            raise _drain("i2d_PUBKEY")
        try:
            return ctypes.string_at(out, n)
        finally:
            _L.CRYPTO_free(out, None, 0)

    def private_pem(self) -> bytes:
        bio = _L.BIO_new(_L.BIO_s_mem())
        try:
            if _L.PEM_write_bio_PrivateKey(bio, self._ptr, None, None, 0, None, None) != 1:
                raise _drain("PEM_write_bio_PrivateKey")
            data = _cp()
            n = _L.BIO_ctrl(bio, _BIO_CTRL_INFO, 0, ctypes.byref(data))
            return ctypes.string_at(data, n)
        finally:
            _L.BIO_free(bio)


def _from_bio(pem: bytes, reader: Any, what: str, password: bytes | None = None) -> PKey:
    _L.ERR_clear_error()
    bio = _L.BIO_new_mem_buf(pem, len(pem))
    try:
        # With no callback OpenSSL reads the last argument as a NUL-terminated passphrase; an empty one
        # (not NULL) keeps it from prompting on a terminal for an encrypted key.
        ptr = reader(bio, None, None, ctypes.c_char_p(password or b""))
    finally:
        _L.BIO_free(bio)
    if not ptr:
        raise _drain(what)
    return PKey(ptr)


def _from_der(der: bytes, reader: Any, what: str) -> int:
    _L.ERR_clear_error()
    buf = _cp(der)
    ptr = reader(None, ctypes.byref(buf), len(der))
    if not ptr:
        raise _drain(what)
    return int(ptr)


def load_private_pem(pem: bytes, password: bytes | None = None) -> PKey:
    return _from_bio(pem, _L.PEM_read_bio_PrivateKey, "PEM_read_bio_PrivateKey", password)


def load_private_der(der: bytes) -> PKey:
    return PKey(_from_der(der, _L.d2i_AutoPrivateKey, "d2i_AutoPrivateKey"))


def load_public_pem(pem: bytes) -> PKey:
    return _from_bio(pem, _L.PEM_read_bio_PUBKEY, "PEM_read_bio_PUBKEY")


def load_public_der(der: bytes) -> PKey:
    return PKey(_from_der(der, _L.d2i_PUBKEY, "d2i_PUBKEY"))


def load_certificate_public_key(cert_der: bytes) -> PKey:
    x509 = _from_der(cert_der, _L.d2i_X509, "d2i_X509")
    try:
        ptr = _L.X509_get_pubkey(x509)
        if not ptr:
            raise _drain("X509_get_pubkey")
        return PKey(ptr)
    finally:
        _L.X509_free(x509)


def generate_sm2() -> PKey:
    _L.ERR_clear_error()
    ctx = _L.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise _drain("EVP_PKEY_CTX_new_from_name(SM2)")
    try:
        out = _vp()
        if _L.EVP_PKEY_keygen_init(ctx) != 1 or _L.EVP_PKEY_generate(ctx, ctypes.byref(out)) != 1:
            raise _drain("SM2 key generation")
        assert out.value is not None
        return PKey(out.value)
    finally:
        _L.EVP_PKEY_CTX_free(ctx)


def sm2_sign_der(key: PKey, data: bytes, ident: bytes) -> bytes:
    """SM3withSM2 over ``data`` with distinguishing id ``ident``; DER ``SEQUENCE{r, s}``."""
    md = _L.EVP_MD_CTX_new()
    if not md:
        raise _drain("EVP_MD_CTX_new")
    try:
        pctx = _vp()
        if _L.EVP_DigestSignInit(md, ctypes.byref(pctx), _SM3, None, key.ptr) != 1:
            raise _drain("EVP_DigestSignInit")
        if _L.EVP_PKEY_CTX_set1_id(pctx, ident, len(ident)) <= 0:
            raise _drain("EVP_PKEY_CTX_set1_id")
        size = _sz(80)
        buf = ctypes.create_string_buffer(80)
        if _L.EVP_DigestSign(md, buf, ctypes.byref(size), data, len(data)) != 1:
            raise _drain("EVP_DigestSign")
        return buf.raw[: size.value]
    finally:
        _L.EVP_MD_CTX_free(md)


def sm2_verify_der(key: PKey, data: bytes, sig_der: bytes, ident: bytes) -> bool:
    """True when ``sig_der`` is a valid SM3withSM2 signature of ``data`` under ``ident``."""
    md = _L.EVP_MD_CTX_new()
    if not md:
        raise _drain("EVP_MD_CTX_new")
    try:
        pctx = _vp()
        if _L.EVP_DigestVerifyInit(md, ctypes.byref(pctx), _SM3, None, key.ptr) != 1:
            raise _drain("EVP_DigestVerifyInit")
        if _L.EVP_PKEY_CTX_set1_id(pctx, ident, len(ident)) <= 0:
            raise _drain("EVP_PKEY_CTX_set1_id")
        ok: bool = _L.EVP_DigestVerify(md, sig_der, len(sig_der), data, len(data)) == 1
        _L.ERR_clear_error()  # a failed verify leaves entries we do not report
        return ok
    finally:
        _L.EVP_MD_CTX_free(md)
