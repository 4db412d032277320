"""AES-GCM for the event store's stored state, with key ids so keys can rotate.

Ciphertext layout: ``0x01 | len(kid) | kid | nonce(12) | AES-GCM(ciphertext+tag)``; the header is the
associated data, so a ciphertext cannot be relabelled with another key id. Encrypt with the current
key, decrypt with any key the ring still holds. Keys come from ``CBEC_PII_KEYS``
(``k2:<base64>,k1:<base64>``; the first is current), never from the repository.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = 1
NONCE_BYTES = 12
ENV_VAR = "CBEC_PII_KEYS"


class CipherError(ValueError):
    """A ciphertext that no key of the ring opens, or a malformed key configuration."""


@dataclass(frozen=True)
class KeyRing:
    """Named AES keys (16, 24 or 32 bytes) and the one new data is encrypted with."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise CipherError(f"current key {self.current!r} is not in the ring")
        for kid, key in self.keys.items():
            if not kid or len(kid.encode()) > 255 or ":" in kid or "," in kid:
                raise CipherError(f"bad key id {kid!r}")
            if len(key) not in (16, 24, 32):
                raise CipherError(f"key {kid!r} must be 16, 24 or 32 bytes, not {len(key)}")

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """``k2:<base64>,k1:<base64>``: the first key is current."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise CipherError("each key must be written <id>:<base64>")
            try:
                keys[kid.strip()] = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                raise CipherError(f"key {kid!r} is not base64") from None
            order.append(kid.strip())
        if not order:
            raise CipherError("no keys configured")
        return cls(keys, order[0])

    @classmethod
    def from_spec(cls, spec: str | None) -> KeyRing | None:
        """The ring ``CBEC_PII_KEYS`` configures (``settings.pii``), or None when it is empty."""
        return cls.parse(spec) if spec and spec.strip() else None


def new_key() -> str:
    """A fresh 256-bit key, base64, for ``CBEC_PII_KEYS``."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


class AesGcmCipher:
    """The event store's ``Cipher``: encrypts each event's stored state."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {kid: AESGCM(key) for kid, key in ring.keys.items()}

    @classmethod
    def from_spec(cls, spec: str | None) -> AesGcmCipher | None:
        """A cipher over the ring ``spec`` configures, or None (personal data stored in clear)."""
        ring = KeyRing.from_spec(spec)
        return cls(ring) if ring else None

    def encrypt(self, plaintext: bytes) -> bytes:
        kid = self.ring.current.encode()
        header = bytes([FORMAT, len(kid)]) + kid
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aead[self.ring.current].encrypt(nonce, plaintext, header)

    def decrypt(self, ciphertext: bytes) -> bytes:
        kid, header, rest = self._split(ciphertext)
        aead = self._aead.get(kid)
        if aead is None:
            raise CipherError(f"no key {kid!r} in the ring (rotated out too early?)")
        try:
            return aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], header)
        except InvalidTag:
            raise CipherError(f"ciphertext does not open with key {kid!r}") from None

    def key_id(self, ciphertext: bytes) -> str:
        return self._split(ciphertext)[0]

    def needs_rotation(self, ciphertext: bytes) -> bool:
        return self.key_id(ciphertext) != self.ring.current

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same plaintext under the current key (for a re-encryption job)."""
        return self.encrypt(self.decrypt(ciphertext))

    @staticmethod
    def _split(ciphertext: bytes) -> tuple[str, bytes, bytes]:
        if len(ciphertext) < 2 or ciphertext[0] != FORMAT:
            raise CipherError("not a cbec AES-GCM ciphertext")
        end = 2 + ciphertext[1]
        if len(ciphertext) < end + NONCE_BYTES + 16:
            raise CipherError("ciphertext is truncated")
        return ciphertext[2:end].decode(), ciphertext[:end], ciphertext[end:]
