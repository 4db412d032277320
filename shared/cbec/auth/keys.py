"""API keys: ``cbec_<keyId>_<secret>``, kept only as HMAC-SHA256(salt, key) next to their tenant.

The registry is a JSON list of ``{"keyId", "tenant", "salt", "hash", "label"?}`` records, read from
the file named by ``CBEC_API_KEYS_FILE`` or from ``CBEC_API_KEYS`` (the JSON itself). Issue a key
with ``python -m cbec.auth.keys issue <customs code> [label]``: it prints the key once, and the
record to add to the registry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PREFIX = "cbec"
FILE_VAR = "CBEC_API_KEYS_FILE"
JSON_VAR = "CBEC_API_KEYS"


def _digest(salt: str, key: str) -> str:
    return hmac.new(bytes.fromhex(salt), key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One issued key: which tenant it authenticates, and its salted hash (never the key)."""

    keyId: str  # noqa: N815 - the JSON field name
    tenant: str
    salt: str
    hash: str
    label: str = ""

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(_digest(self.salt, key), self.hash)


def key_id_of(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def issue_key(tenant: str, label: str = "") -> tuple[str, ApiKeyRecord]:
    """A new key for ``tenant`` (shown to the caller once) and the record to store."""
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_hex(16)
    return key, ApiKeyRecord(key_id, tenant, salt, _digest(salt, key), label)


class ApiKeyRegistry:
    """Authenticates presented keys; knows nothing but hashes."""

    def __init__(self, records: Iterable[ApiKeyRecord] = ()) -> None:
        self._by_id = {r.keyId: r for r in records}

    def __len__(self) -> int:
        return len(self._by_id)

    def authenticate(self, key: str) -> str | None:
        """The tenant (customs code) ``key`` belongs to, or None."""
        key_id = key_id_of(key.strip())
        record = self._by_id.get(key_id) if key_id else None
        if record is None:
            _digest("00" * 16, key)  # spend the same time on unknown ids
            return None
        return record.tenant if record.matches(key.strip()) else None

    def records(self) -> list[ApiKeyRecord]:
        return list(self._by_id.values())

    def to_json(self) -> list[dict[str, str]]:
        return [asdict(r) for r in self._by_id.values()]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> ApiKeyRegistry:
        return cls(
            ApiKeyRecord(
                str(d["keyId"]), str(d["tenant"]), str(d["salt"]), str(d["hash"]), str(d.get("label", ""))
            )
            for d in data
        )

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyRegistry:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def load(cls, path: Path | None, inline: str | None) -> ApiKeyRegistry:
        """``CBEC_API_KEYS_FILE``, else ``CBEC_API_KEYS`` (``settings.api_keys``), else an empty
        registry (every call is 401)."""
        if path is not None:
            return cls.from_file(path)
        return cls.from_json(json.loads(inline)) if inline else cls()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "issue":
        print("usage: python -m cbec.auth.keys issue <customs code> [label]", file=sys.stderr)
        return 2
    key, record = issue_key(argv[1], " ".join(argv[2:]))
    print(f"API key (shown once): {key}")
    print(json.dumps(asdict(record), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
