"""Quota configuration: limits and the key that pseudonymises buyer ID numbers (values, not the
environment: the inventory bootstrap builds it from the settings tree with :meth:`from_settings`)."""

from __future__ import annotations

import logging
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, SecretStr

from cbec.settings import DEVELOPMENT_HMAC_KEY, Settings

log = logging.getLogger(__name__)


class QuotaSettings(BaseModel):
    """``CBEC_QUOTA_ANNUAL_LIMIT``, ``CBEC_QUOTA_SINGLE_LIMIT`` (CNY) and ``CBEC_PII_HMAC_KEY``."""

    model_config = ConfigDict(frozen=True)

    quota_annual_limit: Decimal = Decimal("26000")
    quota_single_limit: Decimal = Decimal("5000")
    pii_hmac_key: SecretStr | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaSettings:
        return cls(quota_annual_limit=settings.quota.annual_limit, quota_single_limit=settings.quota.single_limit,
                   pii_hmac_key=settings.pii.hmac_key)

    def hmac_key(self) -> bytes:
        """The configured key; without one, a fixed development key (and a warning)."""
        if self.pii_hmac_key is None or not self.pii_hmac_key.get_secret_value():
            log.warning("CBEC_PII_HMAC_KEY is not set: buyer quota keys use the insecure development key")
            return DEVELOPMENT_HMAC_KEY.encode()
        return self.pii_hmac_key.get_secret_value().encode()
