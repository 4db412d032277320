"""Messages on ``cbec.sign.requests`` → ``cbec.sign.results`` (JSON, UTF-8).

SignRequest: ``{request_id, tenant, doc_type, clearance_key, xml_b64, profile?}``;
SignResult: ``{request_id, tenant, doc_type, clearance_key, ok, signed_xml_b64?, error?: {code, message}}``.
``cbec.sign.results`` carries the signed document (for the customs link); the owning service gets the
same result without it (:meth:`SignResult.outcome`) on ``cbec.feedback.<owner>.sign-outcomes``.
``tenant`` is the customs code of the enterprise whose certificate signs. Schemas:
``schemas/signing/sign-request.json`` and ``sign-result.json``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, check_schema, finding, text
from cbec.contracts.topics import SIGN_REQUESTS as REQUESTS_TOPIC
from cbec.contracts.topics import SIGN_RESULTS as RESULTS_TOPIC

REQUEST_SCHEMA = "signing/sign-request.json"
RESULT_SCHEMA = "signing/sign-result.json"
OUTCOME_SCHEMA = "signing/sign-outcome.json"


@dataclass(frozen=True, slots=True)
class SignRequest(JsonMessage):
    """A released document to sign with the certificate of ``tenant``."""

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignRequest:
        request = cls(
            request_id=text(data, "request_id"),
            tenant=text(data, "tenant"),
            doc_type=text(data, "doc_type"),
            clearance_key=text(data, "clearance_key"),
            xml_b64=text(data, "xml_b64"),
            profile=text(data, "profile", required=False) if data.get("profile") is not None else None,
        )
        check_schema(REQUEST_SCHEMA, data)
        return request


@dataclass(frozen=True, slots=True)
class SignError:
    """Why a document could not be signed (``code`` is a customs or ``CBEC-SIG-…`` code)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class SignResult(JsonMessage):
    """The signed document, or why signing failed, for one request id."""

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

    def outcome(self) -> SignOutcome:
        """This result without the signed document: what the owning service needs to know."""
        return SignOutcome(self.request_id, self.tenant, self.doc_type, self.clearance_key, self.ok, self.error)

    def signed_xml(self) -> bytes:
        if self.signed_xml_b64 is None:
            raise ContractError("result carries no signed XML")
        try:
            return base64.b64decode(self.signed_xml_b64, validate=True)
        except ValueError as exc:
            raise ContractError("signed_xml_b64 is not base64") from exc

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
            out["error"] = self.error.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignResult:
        result = cls(
            **_answer_fields(data),
            signed_xml_b64=None if data.get("signed_xml_b64") is None else text(data, "signed_xml_b64", required=False),
        )
        check_schema(RESULT_SCHEMA, data)
        return result


def _answer_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields a sign result and a sign outcome share, read and checked."""
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ContractError([finding("ok", "ok must be a boolean")])
    return {"request_id": text(data, "request_id"), "tenant": text(data, "tenant"),
            "doc_type": text(data, "doc_type"), "clearance_key": text(data, "clearance_key"), "ok": ok,
            "error": _sign_error(data.get("error"))}


@dataclass(frozen=True, slots=True)
class SignOutcome(JsonMessage):
    """Whether one request was signed, without the document (:meth:`SignResult.outcome`)."""

    request_id: str
    tenant: str
    doc_type: str
    clearance_key: str
    ok: bool
    error: SignError | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "doc_type": self.doc_type,
            "clearance_key": self.clearance_key,
            "ok": self.ok,
        }
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignOutcome:
        outcome = cls(**_answer_fields(data))
        check_schema(OUTCOME_SCHEMA, data)
        return outcome


def _sign_error(error: Any) -> SignError | None:
    if error is None:
        return None
    if not isinstance(error, dict):
        raise ContractError([finding("error", "error must be an object {code, message}")])
    return SignError(text(error, "code", path="error."), text(error, "message", required=False))


__all__ = ["REQUESTS_TOPIC", "RESULTS_TOPIC", "ContractError", "SignError", "SignOutcome", "SignRequest", "SignResult"]
