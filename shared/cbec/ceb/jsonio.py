"""CebMessage ⇄ JSON-ready dicts (the CLI's ``parse``/``build`` format)."""

from __future__ import annotations

from typing import Any

from cbec.ceb.model import CebMessage
from cbec.errors import CebError, CebValidationError


def to_jsonable(msg: CebMessage) -> dict[str, Any]:
    """Plain dict; the signature element is given as XML text."""
    out: dict[str, Any] = {"type": msg.type, "guid": msg.guid, "version": msg.version, "docs": msg.docs}
    if msg.base_transfer is not None:
        out["base_transfer"] = msg.base_transfer
    if msg.base_subscribe:
        out["base_subscribe"] = msg.base_subscribe
    if msg.extend_message is not None:
        out["extend_message"] = msg.extend_message
    if msg.signature is not None:
        out["signature"] = msg.signature.decode("utf-8")
    if msg.warnings:
        out["warnings"] = [w.to_dict() for w in msg.warnings]
    return out


def from_jsonable(data: Any, *, msg_type: str | None = None) -> CebMessage:
    """The message described by ``data`` (as written by :func:`to_jsonable`); ``msg_type`` overrides."""

    def bad(message: str) -> CebValidationError:
        return CebValidationError([CebError("CBEC-MODEL", "/", "json", message)])

    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    mtype = (msg_type or data.get("type") or "").removesuffix("Message")
    docs = data.get("docs")
    if not mtype:
        raise bad("no message type (give TYPE or a 'type' key)")
    if not isinstance(docs, list):
        raise bad("'docs' must be a list of documents")
    guid = data.get("guid")
    if not isinstance(guid, str):
        import uuid

        guid = str(uuid.uuid4()).upper()
    signature = data.get("signature")
    return CebMessage(
        type=mtype,
        docs=docs,
        guid=guid,
        version=str(data.get("version", "1.0")),
        base_transfer=data.get("base_transfer"),
        base_subscribe=list(data.get("base_subscribe") or []),
        extend_message=data.get("extend_message"),
        signature=signature.encode("utf-8") if isinstance(signature, str) else None,
    )
