"""The saga process's own settings (``CBEC_`` prefix, like every process)."""

from __future__ import annotations

import os

from pydantic_settings import BaseSettings, SettingsConfigDict


class SagaSettings(BaseSettings):
    """``CBEC_SAGA_GATE`` (120 or 2), receipt deadline and resends; webhook delivery policy."""

    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    saga_gate: int = 120
    saga_receipt_timeout: float = 600.0  # seconds after a send (or receipt) before a resend
    saga_max_resends: int = 3
    webhook_max_attempts: int = 6
    webhook_backoff: float = 2.0  # seconds before the 2nd attempt; doubles each time
    webhook_timeout: float = 5.0
    webhook_secret: str = ""  # default HMAC key; CBEC_WEBHOOK_SECRET_<customs code> overrides per tenant


class SecretLookup:
    """A tenant's HMAC key from the environment, never from the repository."""

    def __init__(self, default: str) -> None:
        self.default = default

    def __call__(self, tenant: str) -> bytes:
        value = os.environ.get(f"CBEC_WEBHOOK_SECRET_{tenant}", self.default)
        if not value:
            raise LookupError(f"no webhook secret for tenant {tenant} (set CBEC_WEBHOOK_SECRET_{tenant})")
        return value.encode()


def secret_for(settings: SagaSettings) -> SecretLookup:
    return SecretLookup(settings.webhook_secret)
