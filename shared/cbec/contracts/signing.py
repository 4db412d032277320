"""Messages on ``cbec.sign.requests`` → ``cbec.sign.results`` (JSON, UTF-8).

SignRequest: ``{request_id, tenant, doc_type, clearance_key, xml_b64, profile?}``;
SignResult: ``{request_id, tenant, doc_type, clearance_key, ok, signed_xml_b64?, error?: {code, message}}``.
``tenant`` is the customs code of the enterprise whose certificate signs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

REQUESTS_TOPIC = "cbec.sign.requests"
RESULTS_TOPIC = "cbec.sign.results"


class ContractError(ValueError):
    """A message does not follow the signing contract."""


def _str(data: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not optional and value == ""):
        raise ContractError(f"{name} must be a non-empty string")
    return value


def _load(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ContractError("message must be a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class SignRequest:
    request_id: str
    tenant: str
    doc_type: str
    clearance_key: str
    xml_b64: str
    profile: str | None = None

    @classmethod
    def for_xml(
        cls,
        request_id: str,
        tenant: str,
        doc_type: str,
        clearance_key: str,
        xml: bytes,
        profile: str | None = None,
    ) -> SignRequest:
        return cls(request_id, tenant, doc_type, clearance_key, base64.b64encode(xml).decode("ascii"), profile)

    def xml(self) -> bytes:
        try:
            return base64.b64decode(self.xml_b64, validate=True)
        except ValueError as exc:
            raise ContractError("xml_b64 is not base64") from exc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "doc_type": self.doc_type,
            "clearance_key": self.clearance_key,
            "xml_b64": self.xml_b64,
        }
        if self.profile is not None:
            out["profile"] = self.profile
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignRequest:
        return cls(
            request_id=_str(data, "request_id") or "",
            tenant=_str(data, "tenant") or "",
            doc_type=_str(data, "doc_type") or "",
            clearance_key=_str(data, "clearance_key") or "",
            xml_b64=_str(data, "xml_b64") or "",
            profile=_str(data, "profile", optional=True),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> SignRequest:
        return cls.from_dict(_load(raw))


@dataclass(frozen=True, slots=True)
class SignError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SignResult:
    request_id: str
    tenant: str
    doc_type: str
    clearance_key: str
    ok: bool
    signed_xml_b64: str | None = None
    error: SignError | None = None

    @classmethod
    def success(cls, request: SignRequest, signed_xml: bytes) -> SignResult:
        encoded = base64.b64encode(signed_xml).decode("ascii")
        return cls(request.request_id, request.tenant, request.doc_type, request.clearance_key, True, encoded)

    @classmethod
    def failure(cls, request: SignRequest, code: str, message: str) -> SignResult:
        return cls(
            request.request_id,
            request.tenant,
            request.doc_type,
            request.clearance_key,
            False,
            error=SignError(code, message),
        )

    def signed_xml(self) -> bytes:
        if self.signed_xml_b64 is None:
            raise ContractError("result carries no signed XML")
        return base64.b64decode(self.signed_xml_b64)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "doc_type": self.doc_type,
            "clearance_key": self.clearance_key,
            "ok": self.ok,
        }
        if self.signed_xml_b64 is not None:
            out["signed_xml_b64"] = self.signed_xml_b64
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message}
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignResult:
        ok = data.get("ok")
        if not isinstance(ok, bool):
            raise ContractError("ok must be a boolean")
        error = data.get("error")
        parsed_error = None
        if error is not None:
            if not isinstance(error, dict):
                raise ContractError("error must be an object")
            parsed_error = SignError(_str(error, "code") or "", _str(error, "message", optional=True) or "")
        return cls(
            request_id=_str(data, "request_id") or "",
            tenant=_str(data, "tenant") or "",
            doc_type=_str(data, "doc_type") or "",
            clearance_key=_str(data, "clearance_key") or "",
            ok=ok,
            signed_xml_b64=_str(data, "signed_xml_b64", optional=True),
            error=parsed_error,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> SignResult:
        return cls.from_dict(_load(raw))
