"""Validate public messages against the JSON Schemas in ``contracts/schemas/`` (draft 2020-12).

Two validators over the same schemas: ``jsonschema-rs`` (compiled, in Rust) decides whether a message
is valid — every message on every topic is checked, so this is on the hot path — and the pure-Python
``jsonschema`` explains a refusal with one finding per broken rule. Where the two disagree the stricter
wins: a message either refuses is refused (e.g. ``$`` before a trailing newline is an end of text for
Python's ``re`` but not for the Rust engine), with the Rust engine's findings when Python found none.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cbec.errors import CebError
from cbec.privacy.log_filter import mask_text

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ASYNCAPI_FILE = Path(__file__).resolve().parent / "asyncapi.yaml"


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.rglob("*.json"))


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Relative path (``events/DocumentReceived.json``) → schema."""
    return {
        p.relative_to(SCHEMA_DIR).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in schema_files()
    }


def load_schema(name: str) -> dict[str, Any]:
    return _schemas()[name]


@cache
def registry() -> Registry[Any]:
    """Every schema under its ``$id``, so relative ``$ref``s between files resolve offline."""
    resources = [
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in _schemas().values()
    ]
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@cache
def _fast_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(s["$id"], s) for s in _schemas().values()])


@cache
def fast_validator(name: str) -> jsonschema_rs.Draft202012Validator:
    """The compiled validator of schema ``name`` (formats checked, references resolved offline)."""
    return jsonschema_rs.Draft202012Validator(load_schema(name), registry=_fast_registry(), validate_formats=True)


def _path(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The most specific findings of an error (if/then and allOf wrap the useful ones)."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


def _message(error: ValidationError) -> str:
    """The finding without the offending value: it may be an ID number or a phone, and findings
    travel further than the document (refusal events, logs)."""
    message = error.message
    if isinstance(error.instance, (str, int, float)) and not isinstance(error.instance, bool):
        message = message.replace(repr(error.instance), "the value")
    return mask_text(message)[:300]


def errors_of(name: str, instance: Any) -> list[CebError]:
    """Every way ``instance`` breaks schema ``name``, as CBEC-0005 findings (empty when valid)."""
    if is_valid(name, instance):  # the common case
        return []
    found: list[CebError] = []
    for error in sorted(validator(name).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaves(error):
            found.append(CebError("CBEC-0005", _path(leaf), "JSON Schema", _message(leaf)))
    if not found:
        found = [CebError("CBEC-0005", _fast_path(e.instance_path), "JSON Schema", _fast_message(e))
                 for e in fast_validator(name).iter_errors(instance)]
    unique = {(e.path, e.message): e for e in found}
    return list(unique.values()) or [CebError("CBEC-0005", "$", "JSON Schema", f"does not match {name}")]


def is_valid(name: str, instance: Any) -> bool:
    """Whether ``instance`` meets schema ``name``, by the compiled validator alone (the Python one only
    explains refusals; ``tests/contract/test_schema_validators_agree.py`` runs both over real commands
    and thousands of hostile variants: the compiled one never accepts what the Python one refuses)."""
    try:
        return bool(fast_validator(name).is_valid(instance))
    except (ValueError, RecursionError):  # not representable as JSON (e.g. a non-string key): not valid
        return False


def _fast_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def _fast_message(error: Any) -> str:
    return mask_text(str(getattr(error, "message", "") or "does not match the schema"))[:300]


def check_declare(command: Any, *, doc_type: str | None = None) -> list[CebError]:
    """Findings of a DeclareDocument JSON object against its document type's schema.

    ``doc_type`` is the intake topic's type when the command leaves ``docType`` out.
    """
    code = command.get("docType", doc_type) if isinstance(command, dict) else doc_type
    if isinstance(code, str) and f"commands/declare-{code}.json" in _schemas():
        return errors_of(f"commands/declare-{code}.json", command)
    return errors_of("commands/declare-document.json", command)
