"""Size and shape limits every intake (HTTP and Kafka) applies before it does any other work.

- a command is at most ``max_bytes`` long (HTTP: 413 while the body is read; Kafka: dead-lettered);
- its JSON nests at most ``max_depth`` levels, measured on the raw bytes before any parser recurses;
- every string in it (names included) holds only characters an XML document may carry: no lone
  surrogate (``\\ud800``), no NUL or other C0 control but tab, CR and LF, no U+FFFE/U+FFFF;
- at most ``max_findings`` findings travel back (the first ones, with the total count).

Each breach is a :class:`CebError` naming the field (``$`` for the whole message) and the rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cbec.errors import CebError

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_FINDINGS = 100

TOO_LARGE = "CBEC-0413"
TOO_DEEP = "CBEC-0011"
BAD_CHARACTER = "CBEC-0012"
NOT_JSON = "CBEC-0001"

_OPENERS = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A JSON escape that could stand for one of them (over-matches, e.g. after an escaped backslash: that
# only costs the walk through the parsed value).
_BAD_ESCAPE = re.compile(r"\\u(?:00[01][0-9a-f]|d[89a-f][0-9a-f]{2}|fff[ef])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """The limits of one intake (``CBEC_MAX_BODY_BYTES``, ``CBEC_JSON_MAX_DEPTH``, ``CBEC_MAX_FINDINGS``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_findings: int = DEFAULT_MAX_FINDINGS


DEFAULT_LIMITS = IntakeLimits()


class LimitBreached(ValueError):
    """The message breaks a limit (or is no JSON at all); ``errors`` names the rule and the field."""

    def __init__(self, *errors: CebError) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def too_large(size: int | None, limit: int) -> CebError:
    told = f"{size} bytes long" if size is not None else "longer than that"
    return CebError(TOO_LARGE, "$", "size limit", f"at most {limit} bytes are accepted; the message is {told}")


def nesting_depth(raw: bytes, stop_after: int | None = None) -> int:
    """How deep the JSON in ``raw`` nests (strings skipped), counted without parsing it.

    Stops counting once ``stop_after`` is passed. Escaped backslashes and quotes are dropped first,
    so every quote left opens or closes a string; the brackets outside strings are what remain.
    """
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(plain.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


def bad_character(data: Any, path: str = "$") -> str | None:
    """The path of the first string (value or name) in ``data`` with a character XML cannot carry."""
    stack: list[tuple[Any, str]] = [(data, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _BAD_CHARACTERS.search(node):
                return where
        elif isinstance(node, dict):
            for name, value in node.items():
                if _BAD_CHARACTERS.search(name):  # named escaped, so the finding itself stays printable
                    name = name.encode("ascii", "backslashreplace").decode()
                    return name if where == "$" else f"{where}.{name}"
                stack.append((value, name if where == "$" else f"{where}.{name}"))
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{i}]") for i, value in enumerate(node, 1))
    return None


def _may_hold_bad_character(data: bytes) -> bool:
    """Whether the JSON text ``data`` (already parsed) could hold a bad character in a string: one
    written as is, or escaped. False lets the caller skip the walk through the parsed value."""
    try:
        text = data.decode("utf-8", "surrogatepass")  # as json.loads reads UTF-8
    except UnicodeDecodeError:
        return True  # another encoding json.loads detected: walk the value
    return bool(_BAD_CHARACTERS.search(text) or _BAD_ESCAPE.search(text))


def load_json(raw: bytes | str, limits: IntakeLimits = DEFAULT_LIMITS) -> Any:
    """The JSON in ``raw``, within the limits; anything else raises :class:`LimitBreached`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > limits.max_bytes:
        raise LimitBreached(too_large(len(data), limits.max_bytes))
    if nesting_depth(data, limits.max_depth) > limits.max_depth:
        raise LimitBreached(CebError(TOO_DEEP, "$", "JSON depth limit",
                                     f"the JSON nests deeper than {limits.max_depth} levels"))
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        raise LimitBreached(CebError(NOT_JSON, "$", "JSON", f"the message is {reason}")) from None
    where = bad_character(value) if _may_hold_bad_character(data) else None
    if where is not None:
        raise LimitBreached(CebError(
            BAD_CHARACTER, where, "characters",
            "holds a character no customs message can carry (a lone surrogate, NUL or another control character)",
        ))
    return value


def capped(errors: list[CebError], limit: int = DEFAULT_MAX_FINDINGS) -> list[CebError]:
    """The first ``limit`` findings (callers report ``len(errors)`` as the total)."""
    return errors[:limit]
