"""The webhook HMAC keys as the saga looks them up (values from ``settings.webhooks``, never the
environment or the repository)."""

from __future__ import annotations

from cbec.settings import WebhookSettings


class SecretLookup:
    """A tenant's HMAC key: ``CBEC_WEBHOOK_SECRET_<code>``, else ``CBEC_WEBHOOK_SECRET``."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def __call__(self, tenant: str) -> bytes:
        value = self.settings.secret_for(tenant)
        if not value:
            raise LookupError(f"no webhook secret for tenant {tenant} (set CBEC_WEBHOOK_SECRET_{tenant})")
        return value.encode()
