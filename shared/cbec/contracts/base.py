"""What every message contract shares: the one decoding error, JSON in and out, schema checks.

Decoding a message (``from_json``) reads the JSON, names every field that is missing or of the
wrong type, then checks the published JSON Schema; any failure raises :class:`ContractError`,
which carries the findings, so the consumer can dead-letter the message with them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Self

import orjson

from cbec import fastjson
from cbec.errors import CebError


class ContractError(ValueError):
    """A message does not follow its contract; ``errors`` names each finding. A consumer dead-letters
    it at once (``poison``: trying again cannot help, see ``cbec.bus.poison``)."""

    poison = True

    def __init__(self, errors: Sequence[CebError] | str) -> None:
        if isinstance(errors, str):
            errors = [CebError("CBEC-0002", "$", "contract", errors)]
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors[:10]))


class JsonMessage:
    """A topic message's JSON form, from its ``to_dict`` and ``from_dict``."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        raise NotImplementedError

    def to_json(self) -> bytes:
        return dump(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        """Read a message; a failure is a :class:`ContractError` naming every finding."""
        return cls.from_dict(load_object(raw))


def finding(path: str, message: str, rule: str = "contract") -> CebError:
    return CebError("CBEC-0002", path, rule, message)


def as_ceb_error(item: Mapping[str, Any]) -> CebError:
    """A finding from its JSON object ``{code, path, rule, message}`` (missing parts read as "")."""
    return CebError(*(str(item.get(k, "")) for k in ("code", "path", "rule", "message")))


def load_object(raw: bytes | str | None) -> dict[str, Any]:
    """The JSON object in ``raw``; anything else is a :class:`ContractError` (CBEC-0001)."""
    if raw is None:
        raise ContractError([CebError("CBEC-0001", "$", "JSON", "the message has no value (null)")])
    try:
        data = fastjson.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContractError([CebError("CBEC-0001", "$", "JSON", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise ContractError([CebError("CBEC-0001", "$", "JSON", "JSON nested too deeply")]) from None
    if not isinstance(data, dict):
        raise ContractError([CebError("CBEC-0001", "$", "JSON", "the message must be a JSON object")])
    return data


def dump(data: dict[str, Any], *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (customs texts are Chinese).

    The bytes of ``json.dumps(data, ensure_ascii=False, separators=(",", ":"))``: by orjson (about ten
    times faster) when ``data`` holds only strings, integers within 64 bits, booleans, None, lists,
    tuples and objects with string keys, where both write the same bytes; otherwise (floats, which
    the two format differently, or anything else) by ``json``."""
    if fastjson.built_of(data, _SCALARS):
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS if sort_keys else None)
        except TypeError:  # an integer beyond 64 bits, a lone surrogate: json's answer, below
            pass
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys).encode()


_SCALARS = frozenset({str, int, bool, type(None)})


def check_schema(schema: str, data: dict[str, Any]) -> None:
    """Raise :class:`ContractError` when ``data`` breaks the published schema ``schema``."""
    from cbec.contracts.schema_check import errors_of  # jsonschema is loaded on first use

    errors = errors_of(schema, data)
    if errors:
        raise ContractError(errors)


def text(data: dict[str, Any], name: str, *, required: bool = True, path: str = "") -> str:
    """A string field; required ones must be non-empty. Absent optional ones read as ``""``."""
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ContractError([finding(path + name, f"{name} is required (a non-empty string)" if required
                                     else f"{name} must be a string")])
    return value


def texts(data: dict[str, Any], name: str, *, required: bool = True) -> tuple[str, ...]:
    """A list of strings; required ones must be non-empty."""
    value = data.get(name, None if required else [])
    if not isinstance(value, list) or (required and not value) or not all(isinstance(v, str) for v in value):
        raise ContractError([finding(name, f"{name} is required (a list of strings)" if required
                                     else f"{name} must be a list of strings")])
    return tuple(value)


def ceb_errors(data: dict[str, Any], name: str, *, required: bool = True) -> tuple[CebError, ...]:
    """A list of findings ``{code, path, rule, message}``."""
    value = data.get(name, None if required else [])
    if not isinstance(value, list) or (required and not value):
        raise ContractError([finding(name, f"{name} are required (a list of findings)" if required
                                     else f"{name} must be a list of findings")])
    out: list[CebError] = []
    for item in value:
        if not isinstance(item, dict):
            raise ContractError([finding(name, "each error is an object {code, path, rule, message}")])
        out.append(as_ceb_error(item))
    return tuple(out)
