"""HTTP API: ``POST /sign`` and ``POST /verify`` (bearer token), ``GET /metrics``, ``GET /health``."""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any

from cbec.contracts.signing import SignRequest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Response
from pydantic import BaseModel

from signer_service.application import BACKEND_UNAVAILABLE, SignerApp


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


def create_router(app: SignerApp, token: str | None) -> APIRouter:
    """Routes bound to ``app``; with no ``token`` configured every signing call is refused."""
    router = APIRouter()

    def authorize(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = f"Bearer {token}" if token else None
        if (
            expected is None
            or authorization is None
            or not hmac.compare_digest(authorization.encode(), expected.encode())
        ):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    @router.post("/sign", dependencies=[Depends(authorize)])
    def sign(body: SignBody, response: Response) -> dict[str, Any]:
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

    @router.post("/verify", dependencies=[Depends(authorize)])
    def verify(body: VerifyBody) -> dict[str, object]:
        import base64
        import binascii

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

    @router.get("/metrics")
    def metrics() -> Response:
        body = app.render_metrics()
        return Response(body, media_type="text/plain; version=0.0.4")

    @router.get("/health")
    def health() -> dict[str, object]:
        stats = app.pool_stats()
        return {
            "ok": all(s.connected > 0 for s in stats.values()),
            "pools": {k: v.connected for k, v in stats.items()},
        }

    return router


def create_app(app: SignerApp, token: str | None) -> FastAPI:
    api = FastAPI(title="cbec signer")
    api.include_router(create_router(app, token))
    return api
