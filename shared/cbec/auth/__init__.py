"""API keys of the tenants (stored only as salted hashes) and who may read which document."""

from cbec.auth.keys import ApiKeyRecord, ApiKeyRegistry, issue_key

__all__ = ["ApiKeyRecord", "ApiKeyRegistry", "issue_key"]
