"""Dead letters: what a consumer could not read or deliver, kept with its findings for operators.

- ``cbec.dlq.<service>``: :class:`DeadLetter`, a command a declaration service could not read or
  key (``schemas/events/dead-letter.json``); keyed by its source.
- ``cbec.dlq.webhooks``: :class:`WebhookDeadLetter`, a status delivery that failed every attempt
  (``schemas/events/webhook-dead-letter.json``); keyed by the tenant.
- ``cbec.dlq.signer``: the unreadable sign request itself, as it came (no envelope).

The raw command may hold personal data: the DLQ topics are for the sender's operators only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, as_ceb_error, ceb_errors, check_schema, finding, text
from cbec.errors import CebError

DEAD_LETTERED = "CommandDeadLettered"
"""The stored event a declaration service keeps for a dead letter (its outbox publishes it)."""
MAX_COMMAND_CHARS = 100_000


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ContractError([finding(name, f"{name} must be a non-negative integer")])
    return value


@dataclass(frozen=True, slots=True)
class DeadLetter(JsonMessage):
    """An unreadable command with where it came from and every finding."""

    source: str  # topic:partition (+ "#refused" when the command was read but could not be keyed)
    offset: int
    errors: tuple[CebError, ...]
    command: str  # the raw command as text, cut at MAX_COMMAND_CHARS

    @classmethod
    def of(cls, source: str, offset: int, errors: list[CebError], raw: bytes) -> DeadLetter:
        return cls(source, offset, tuple(errors), raw.decode("utf-8", "replace")[:MAX_COMMAND_CHARS])

    @classmethod
    def stored(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Rebuild the letter a service stored from :meth:`to_dict` (trusted: not checked again)."""
        errors = tuple(as_ceb_error(e) for e in data.get("errors", []))
        return cls(str(data.get("source", "")), int(data.get("offset", 0)), errors, str(data.get("command", "")))

    @property
    def key(self) -> str:
        return self.source

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "offset": self.offset, "errors": [e.to_dict() for e in self.errors],
                "command": self.command}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetter:
        letter = cls(text(data, "source"), _count(data, "offset"), ceb_errors(data, "errors"),
                     text(data, "command", required=False))
        check_schema("events/dead-letter.json", data)
        return letter


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


__all__ = ["DEAD_LETTERED", "MAX_COMMAND_CHARS", "DeadLetter", "WebhookDeadLetter"]
