"""Quota configuration: limits and the key that pseudonymises buyer ID numbers."""

from __future__ import annotations

import logging
from decimal import Decimal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

_DEVELOPMENT_KEY = "cbec-development-only-hmac-key"


class QuotaSettings(BaseSettings):
    """``CBEC_QUOTA_ANNUAL_LIMIT``, ``CBEC_QUOTA_SINGLE_LIMIT`` (CNY) and ``CBEC_PII_HMAC_KEY``."""

    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    quota_annual_limit: Decimal = Decimal("26000")
    quota_single_limit: Decimal = Decimal("5000")
    pii_hmac_key: SecretStr | None = None

    def hmac_key(self) -> bytes:
        """The configured key; without one, a fixed development key (and a warning)."""
        if self.pii_hmac_key is None or not self.pii_hmac_key.get_secret_value():
            log.warning("CBEC_PII_HMAC_KEY is not set: buyer quota keys use the insecure development key")
            return _DEVELOPMENT_KEY.encode()
        return self.pii_hmac_key.get_secret_value().encode()
