"""The saga's HTTP face: the clearance view (which document waits for what)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from saga_service.application import SagaApp


def make_http_app(app: SagaApp) -> FastAPI:
    api = FastAPI(title="cbec saga", version="1")

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/clearances/{key}")
    def clearance(key: str) -> dict[str, Any]:
        view = app.view(key)
        if not view["documents"]:
            raise HTTPException(404, "no such clearance")
        return view

    return api
