"""Dead letters: what a consumer could not read or deliver, kept with its findings for operators.

- ``cbec.dlq.<service>``: :class:`DeadLetter`, a command a declaration service could not read or
  key (``schemas/events/dead-letter.json``); keyed by its source.
- ``cbec.dlq.webhooks``: :class:`WebhookDeadLetter`, a status delivery that failed every attempt
  (``schemas/events/webhook-dead-letter.json``); keyed by the tenant.
- ``cbec.dlq.signer``, ``cbec.dlq.saga``, ``cbec.dlq.receipts``: :class:`DeadLetter` too, for what
  the signer, the saga and the customs link could not read or handle.

A letter keeps the message losslessly (:class:`RawMessage`: the exact key, value and header bytes,
base64), where it came from (topic, partition, offset), the reasons and the attempts. The raw
message may hold personal data: with a PII key ring configured it is sealed (:meth:`DeadLetter.sealed_with`,
AES-GCM, key id recorded) and ``cbec dlq show`` opens it; the DLQ topics are for operators only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cbec.contracts.base import (
    ContractError,
    JsonMessage,
    as_ceb_error,
    ceb_errors,
    check_schema,
    dump,
    finding,
    text,
)
from cbec.errors import CebError

DEAD_LETTERED = "CommandDeadLettered"
"""The stored event a declaration service keeps for a dead letter (its outbox publishes it)."""
MAX_COMMAND_CHARS = 100_000


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ContractError([finding(name, f"{name} must be a non-negative integer")])
    return value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(data: Mapping[str, Any], name: str) -> bytes | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise ContractError([finding(name, f"{name} must be base64")]) from None


class Sealer(Protocol):
    """The PII cipher (``cbec.privacy.cipher.AesGcmCipher``) as a dead letter uses it."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...

    def key_id(self, ciphertext: bytes) -> str: ...


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A Kafka record exactly as it came: key, value (``None``: a null value) and header bytes."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyB64": None if self.key is None else _b64(self.key),
            "valueB64": None if self.value is None else _b64(self.value),
            "headers": [{"key": k, "valueB64": _b64(v)} for k, v in self.headers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RawMessage:
        headers = data.get("headers", [])
        if not isinstance(headers, list) or not all(isinstance(h, dict) for h in headers):
            raise ContractError([finding("headers", "headers must be a list of {key, valueB64}")])
        return cls(_unb64(data, "keyB64"), _unb64(data, "valueB64"),
                   tuple((str(h.get("key", "")), _unb64(h, "valueB64") or b"") for h in headers))


@dataclass(frozen=True, slots=True)
class DeadLetter(JsonMessage):
    """An unreadable command (or any message a service could not handle) with where it came from
    and every finding; ``raw`` keeps it byte for byte, ``sealed`` instead when it is encrypted."""

    source: str  # topic:partition (+ "#refused" when the command was read but could not be keyed)
    offset: int
    errors: tuple[CebError, ...]
    command: str  # the raw command as text, cut at MAX_COMMAND_CHARS ("" when sealed)
    raw: RawMessage | None = None
    topic: str = ""
    partition: int | None = None
    attempts: int = 0
    sealed: tuple[str, str] | None = None  # (key id, base64 ciphertext of {"command", "raw"})

    @classmethod
    def of(cls, source: str, offset: int, errors: list[CebError], raw: bytes, *, message: RawMessage | None = None,
           topic: str = "", partition: int | None = None, attempts: int = 0) -> DeadLetter:
        kept = message if message is not None else RawMessage(None, raw)
        return cls(source, offset, tuple(errors), raw.decode("utf-8", "replace")[:MAX_COMMAND_CHARS], kept,
                   topic, partition, attempts)

    @classmethod
    def stored(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Rebuild the letter a service stored from :meth:`to_dict` (trusted: not checked again)."""
        errors = tuple(as_ceb_error(e) for e in data.get("errors", []))
        raw = RawMessage.from_dict(data["raw"]) if isinstance(data.get("raw"), dict) else None
        sealed = data.get("sealed")
        partition = data.get("partition")
        return cls(str(data.get("source", "")), int(data.get("offset", 0)), errors, str(data.get("command", "")),
                   raw, str(data.get("topic", "")), int(partition) if partition is not None else None,
                   int(data.get("attempts", 0)),
                   (str(sealed["keyId"]), str(sealed["data"])) if isinstance(sealed, dict) else None)

    @property
    def key(self) -> str:
        return self.source

    def sealed_with(self, cipher: Sealer | None) -> DeadLetter:
        """This letter with its command and raw message encrypted (unchanged without a cipher)."""
        if cipher is None or self.sealed is not None:
            return self
        plain = dump({"command": self.command, "raw": self.raw.to_dict() if self.raw else None})
        box = cipher.encrypt(plain)
        return replace(self, command="", raw=None, sealed=(cipher.key_id(box), _b64(box)))

    def opened_with(self, cipher: Sealer) -> DeadLetter:
        """This letter with its sealed part decrypted (``CipherError`` when the key is not in the ring)."""
        if self.sealed is None:
            return self
        plain = json.loads(cipher.decrypt(base64.b64decode(self.sealed[1])))
        raw = RawMessage.from_dict(plain["raw"]) if isinstance(plain.get("raw"), dict) else None
        return replace(self, command=str(plain.get("command", "")), raw=raw, sealed=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "offset": self.offset,
                               "errors": [e.to_dict() for e in self.errors], "command": self.command}
        if self.topic:
            out["topic"] = self.topic
        if self.partition is not None:
            out["partition"] = self.partition
        if self.attempts:
            out["attempts"] = self.attempts
        if self.raw is not None:
            out["raw"] = self.raw.to_dict()
        if self.sealed is not None:
            out["sealed"] = {"keyId": self.sealed[0], "data": self.sealed[1]}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetter:
        letter = cls(text(data, "source"), _count(data, "offset"), ceb_errors(data, "errors"),
                     text(data, "command", required=False))
        check_schema("events/dead-letter.json", data)
        return cls.stored(data) if any(k in data for k in ("raw", "sealed", "topic")) else letter


@dataclass(frozen=True, slots=True)
class WebhookDeadLetter(JsonMessage):
    """A status message the tenant's callback URL never accepted, with the last error."""

    delivery_id: str
    message_id: str
    tenant: str
    url: str
    body: str  # the StatusMessage JSON that was POSTed
    due: str  # ISO time the delivery was first due
    attempts: int
    error: str

    @classmethod
    def stored(cls, data: Mapping[str, Any]) -> WebhookDeadLetter:
        """Rebuild the letter the notifier stored from :meth:`to_dict` (trusted: not checked again)."""
        return cls(str(data["deliveryId"]), str(data["messageId"]), str(data["tenant"]), str(data["url"]),
                   str(data["body"]), str(data.get("due", "")), int(data["attempts"]), str(data.get("error", "")))

    @property
    def key(self) -> str:
        return self.tenant

    def to_dict(self) -> dict[str, Any]:
        return {"deliveryId": self.delivery_id, "messageId": self.message_id, "tenant": self.tenant,
                "url": self.url, "body": self.body, "due": self.due, "attempts": self.attempts,
                "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookDeadLetter:
        letter = cls(
            delivery_id=text(data, "deliveryId"),
            message_id=text(data, "messageId"),
            tenant=text(data, "tenant"),
            url=text(data, "url"),
            body=text(data, "body"),
            due=text(data, "due", required=False),
            attempts=_count(data, "attempts"),
            error=text(data, "error", required=False),
        )
        check_schema("events/webhook-dead-letter.json", data)
        return letter


__all__ = ["DEAD_LETTERED", "MAX_COMMAND_CHARS", "DeadLetter", "RawMessage", "Sealer", "WebhookDeadLetter"]
