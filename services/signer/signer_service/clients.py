"""Who may call the signer's HTTP API, and for which enterprises each caller may sign.

A client token is ``cbecsig_<clientId>_<secret>``; the signer keeps only HMAC-SHA256(salt, token)
beside the customs codes the client may sign for. The registry is a JSON list of
``{"clientId", "codes": [...], "salt", "hash", "label"?}`` records, read from the file named by
``CBEC_SIGNER_CLIENTS_FILE`` or from ``CBEC_SIGNER_CLIENTS`` (the JSON itself). Issue a token with
``python -m signer_service.clients issue <customs code>... [--label text]``: it prints the token once,
and the record to add.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "cbecsig"


def _digest(salt: str, token: str) -> str:
    return hmac.new(bytes.fromhex(salt), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SignerClient:
    """One caller: the enterprises it may sign for, and its token's salted hash (never the token)."""

    client_id: str
    codes: frozenset[str]
    salt: str
    hash: str
    label: str = ""

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(_digest(self.salt, token), self.hash)

    def to_json(self) -> dict[str, Any]:
        return {"clientId": self.client_id, "codes": sorted(self.codes), "salt": self.salt, "hash": self.hash,
                "label": self.label}


def issue_client(codes: Iterable[str], label: str = "") -> tuple[str, SignerClient]:
    """A new token that may sign for ``codes`` (shown to the caller once) and the record to store."""
    client_id = secrets.token_hex(6)
    token = f"{PREFIX}_{client_id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_hex(16)
    return token, SignerClient(client_id, frozenset(codes), salt, _digest(salt, token), label)


def _client_id_of(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


class SignerClients:
    """Authenticates presented tokens; knows nothing but hashes."""

    def __init__(self, clients: Iterable[SignerClient] = ()) -> None:
        self._by_id = {c.client_id: c for c in clients}

    def __len__(self) -> int:
        return len(self._by_id)

    def authenticate(self, token: str) -> SignerClient | None:
        """The client ``token`` belongs to, or None."""
        token = token.strip()
        client_id = _client_id_of(token)
        client = self._by_id.get(client_id) if client_id else None
        if client is None:
            _digest("00" * 16, token)  # spend the same time on unknown ids
            return None
        return client if client.matches(token) else None

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> SignerClients:
        return cls(
            SignerClient(str(d["clientId"]), frozenset(str(c) for c in d["codes"]), str(d["salt"]), str(d["hash"]),
                         str(d.get("label", "")))
            for d in data
        )

    @classmethod
    def load(cls, path: Path | None, inline: str | None) -> SignerClients:
        """``CBEC_SIGNER_CLIENTS_FILE``, else ``CBEC_SIGNER_CLIENTS``, else none (every signing call is 401)."""
        if path is not None:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        return cls.from_json(json.loads(inline)) if inline else cls()


def main(argv: list[str]) -> int:
    label = ""
    if "--label" in argv:
        at = argv.index("--label")
        label, argv = " ".join(argv[at + 1:]), argv[:at]
    if len(argv) < 2 or argv[0] != "issue":
        print("usage: python -m signer_service.clients issue <customs code>... [--label text]", file=sys.stderr)
        return 2
    token, client = issue_client(argv[1:], label)
    print(f"signer token (shown once): {token}")
    print(json.dumps(client.to_json(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
