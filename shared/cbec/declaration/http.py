"""The HTTP face of a declaration service: declare a document, read its status and receipt history."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from cbec.contracts.commands import CommandRejected, parse_declare
from cbec.declaration.application import DeclarationApp
from cbec.declaration.views import status_view


def make_router(app: DeclarationApp) -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/v1/documents")
    async def declare(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            command = parse_declare(raw)
        except CommandRejected as rejected:
            return JSONResponse({"result": "refused", "errors": [e.to_dict() for e in rejected.errors]}, 422)
        outcome = app.declare(command)
        body: dict[str, Any] = {"result": outcome.result, "status": outcome.status,
                                "streamId": str(outcome.stream_id) if outcome.stream_id else None,
                                "errors": [e.to_dict() for e in outcome.errors]}
        code = {"accepted": 202, "duplicate": 200}.get(outcome.result, 422)
        return JSONResponse(json.loads(json.dumps(body)), code)

    @router.get("/v1/documents/{doc_type}/{key:path}")
    def status(doc_type: str, key: str) -> dict[str, Any]:
        if doc_type not in app.doc_types:
            raise HTTPException(404, f"{doc_type} is not handled here")
        state = app.find(doc_type, tuple(key.split("/")))
        if state is None:
            raise HTTPException(404, "no such document")
        return status_view(state)

    return router


def make_http_app(app: DeclarationApp, service: str) -> FastAPI:
    api = FastAPI(title=f"cbec {service} service", version="1")
    api.include_router(make_router(app))
    return api
