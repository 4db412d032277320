"""What the event store raises."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the event store's errors."""


class ConcurrencyError(StoreError):
    """The stream moved on since the caller read it: ``expected_version`` is stale (or ahead)."""


class AlreadyProcessed(StoreError):  # noqa: N818 - reads as a fact, not a failure
    """The tracking position was already recorded: the message is a redelivery and is done."""


class DecodeError(StoreError):
    """A stored event could not be decrypted or parsed."""
