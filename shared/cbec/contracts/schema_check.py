"""Validate public messages against the JSON Schemas in ``contracts/schemas/`` (draft 2020-12)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

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
    if validator(name).is_valid(instance):  # the common case, several times cheaper than collecting
        return []
    found: list[CebError] = []
    for error in sorted(validator(name).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaves(error):
            found.append(CebError("CBEC-0005", _path(leaf), "JSON Schema", _message(leaf)))
    unique = {(e.path, e.message): e for e in found}
    return list(unique.values())


def is_valid(name: str, instance: Any) -> bool:
    return validator(name).is_valid(instance)


def check_declare(command: Any, *, doc_type: str | None = None) -> list[CebError]:
    """Findings of a DeclareDocument JSON object against its document type's schema.

    ``doc_type`` is the intake topic's type when the command leaves ``docType`` out.
    """
    code = command.get("docType", doc_type) if isinstance(command, dict) else doc_type
    if isinstance(code, str) and f"commands/declare-{code}.json" in _schemas():
        return errors_of(f"commands/declare-{code}.json", command)
    return errors_of("commands/declare-document.json", command)
