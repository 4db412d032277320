"""Message size limits: what a topic accepts (``max.message.bytes``) and whether a record fits.

One setting, ``CBEC_KAFKA_MAX_MESSAGE_BYTES``, bounds every message cbec writes. Topics are created
with it (``cbec.bus.kafka.ensure_topics``) and producers send requests up to it. A dead letter
carries the whole message it keeps, base64-encoded, so the dead-letter topics accept twice as much.
"""

from __future__ import annotations

from collections.abc import Mapping

from cbec.contracts import topics

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
TOO_LARGE = "CBEC-0091"
"""The finding code of a message above the configured size limit."""
RECORD_OVERHEAD = 1024  # record batch header, record framing, timestamps: well within this


def dead_letter_limit(limit: int) -> int:
    """What a dead-letter topic accepts when other topics accept ``limit`` bytes."""
    return 2 * limit + 64 * 1024


def topic_limit(topic: str, limit: int) -> int:
    """The ``max.message.bytes`` of ``topic`` under the configured ``limit``."""
    return dead_letter_limit(limit) if topics.is_dead_letter(topic) else limit


def record_size(key: str | bytes | None, value: bytes | None, headers: Mapping[str, str] | None = None) -> int:
    """An upper bound of the bytes one record takes in a batch on its own."""
    size = RECORD_OVERHEAD + len(value or b"")
    size += len(key.encode("utf-8") if isinstance(key, str) else key or b"")
    for name, text in (headers or {}).items():
        size += len(name.encode("utf-8")) + len(text.encode("utf-8")) + 8
    return size
