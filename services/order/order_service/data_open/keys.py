"""The platforms' signing certificates for the 179 upload, through cbec's signing code
(``cbec.signing``: SM3withSM2 or SHA-1 with RSA, as the certificate's key is, like the E-Port
UKey's ``SpcSignDataAsPEM``). Loaded from ``CBEC_DATA_OPEN_KEYS_FILE``: a JSON list of
``{"customs_code", "key_pem", "cert_pem"}``, the signer's tenant-file layout."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cbec.settings import DataOpenSettings
from cbec.signing.keys import SigningKey, load_key_files
from cbec.signing.registry import CertificateRegistry
from cbec.signing.xmldsig import SigningError
from pydantic import BaseModel, ConfigDict

from order_service.data_open.payload import b64


class NoKey(SigningError):
    """The platform has no usable certificate for the 179 upload."""


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    customs_code: str
    key_pem: Path
    cert_pem: Path


class PlatformKeys:
    """Signs a text for a platform with its registered certificate (refused when expired)."""

    def __init__(self, keys: Mapping[str, SigningKey]) -> None:
        self._registry = CertificateRegistry()
        for code, key in keys.items():
            self._registry.register(code, key)

    def has(self, platform: str) -> bool:
        return any(e.customs_code == platform for e in self._registry.entries())

    def sign_text(self, platform: str, text: str) -> tuple[str, str]:
        try:
            entry = self._registry.check(platform, platform, datetime.now(UTC))
        except SigningError as refused:
            raise NoKey(refused.code, str(refused)) from None
        return entry.serial_hex, b64(entry.key.sign(text.encode("utf-8")))

    @classmethod
    def from_settings(cls, settings: DataOpenSettings) -> PlatformKeys:
        if settings.keys_file is None:
            return cls({})
        password = settings.key_password.get_secret_value().encode() if settings.key_password else None
        entries = [KeyEntry.model_validate(item) for item in json.loads(settings.keys_file.read_text("utf-8"))]
        return cls({e.customs_code: load_key_files(e.key_pem, e.cert_pem, password) for e in entries})
