"""HTTP API: ``POST /sign`` and ``POST /verify`` (a client token), ``GET /metrics``, ``GET /health``
(and, added by the process runtime, ``GET /livez`` and ``GET /readyz``: ``cbec.health``).

Each caller has its own token (:mod:`signer_service.clients`) naming the enterprises it may sign
for: ``POST /sign`` for any other ``tenant`` is 403, and the registry refuses a document whose
``BaseTransfer/copCode`` is not that tenant. ``/metrics`` names tenants (key pools, certificate
expiries) only for the operator's token (``CBEC_SIGNER_TOKEN``); without it the figures are summed
over tenants. ``/health`` names no tenant.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Annotated, Any

from cbec.contracts.signing import SignRequest
from cbec.metrics import exposition
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from signer_service.application import BACKEND_UNAVAILABLE, SignerApp
from signer_service.clients import SignerClient, SignerClients


class SignBody(BaseModel):
    tenant: str
    xml_b64: str
    doc_type: str = ""
    clearance_key: str = ""
    profile: str | None = None
    request_id: str | None = None


class VerifyBody(BaseModel):
    xml_b64: str
    profile: str | None = None
    registered_only: bool = False


class Refusal(BaseModel):
    detail: str


# Every status a route answers is in the OpenAPI document (the hostile-input suite checks it).
_UNREADABLE: dict[int | str, dict[str, Any]] = {400: {"model": Refusal, "description": "the body is not JSON"}}
_UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {401: {"model": Refusal, "description": "no valid client token"}}
_SIGN_RESPONSES = {**_UNREADABLE, **_UNAUTHENTICATED,
                   403: {"model": Refusal, "description": "this token may not sign for that enterprise"},
                   422: {"description": "an invalid body, or the signing result with its error (CBEC code)"},
                   503: {"description": "the signing result: the key backend is unavailable"}}
_VERIFY_RESPONSES = {**_UNREADABLE, **_UNAUTHENTICATED,
                     422: {"description": "an invalid body, or xml_b64 is not base64"}}
_METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}}


def _bearer(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def client(request: Request, authorization: Annotated[str | None, Header()] = None) -> SignerClient:
    """The calling client, by its token (``app.state.signer_clients``); 401 when there is none."""
    clients: SignerClients = request.app.state.signer_clients
    found = clients.authenticate(_bearer(authorization)) if authorization else None
    if found is None:
        raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


def operator(request: Request, authorization: Annotated[str | None, Header()] = None) -> bool:
    """Whether the caller presented the operator's token (``app.state.operator_token``)."""
    expected: str | None = request.app.state.operator_token
    given = _bearer(authorization)
    return bool(expected and given) and hmac.compare_digest(given.encode(), str(expected).encode())


def create_router(app: SignerApp) -> APIRouter:
    """Routes bound to ``app``; the including app holds the callers in ``state.signer_clients`` (none:
    every signing call is 401) and the operator's token in ``state.operator_token``."""
    router = APIRouter()

    @router.post("/sign", responses=_SIGN_RESPONSES)
    def sign(body: SignBody, response: Response, caller: Annotated[SignerClient, Depends(client)]) -> dict[str, Any]:
        if body.tenant not in caller.codes:
            raise HTTPException(status_code=403, detail="this token may not sign for that enterprise")
        request = SignRequest(
            request_id=body.request_id or str(uuid.uuid4()),
            tenant=body.tenant,
            doc_type=body.doc_type,
            clearance_key=body.clearance_key,
            xml_b64=body.xml_b64,
            profile=body.profile,
        )
        result = app.handle(request)
        if not result.ok:
            assert result.error is not None
            response.status_code = 503 if result.error.code == BACKEND_UNAVAILABLE else 422
        return result.to_dict()

    @router.post("/verify", dependencies=[Depends(client)], responses=_VERIFY_RESPONSES)
    def verify(body: VerifyBody) -> dict[str, object]:
        try:
            xml = base64.b64decode(body.xml_b64, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(status_code=422, detail="xml_b64 is not base64") from None
        result = app.verify(xml, body.profile, registered_only=body.registered_only)
        return {
            "ok": result.ok,
            "code": result.code,
            "reason": result.reason,
            "serial_hex": result.serial_hex,
            "algorithm": result.algorithm,
            "profile": result.profile,
        }

    @router.get("/metrics", response_class=PlainTextResponse, responses=_METRICS_RESPONSES)
    def metrics(per_tenant: Annotated[bool, Depends(operator)]) -> Response:
        body = app.render_metrics(per_tenant=per_tenant).encode() + exposition()  # + the process's own
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/health")
    def health() -> dict[str, object]:
        stats = app.pool_stats()
        working = sum(1 for s in stats.values() if s.connected > 0)
        return {"ok": working == len(stats), "pools": {"configured": len(stats), "working": working}}

    return router


def create_app(app: SignerApp, clients: SignerClients | None = None, operator_token: str | None = None) -> FastAPI:
    api = FastAPI(title="cbec signer")
    api.state.signer_clients = clients if clients is not None else SignerClients()
    api.state.operator_token = operator_token
    api.include_router(create_router(app))
    return api
