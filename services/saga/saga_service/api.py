"""The saga's HTTP face: the clearance view (which document waits for what), for its parties only.

``GET /v1/clearances/{key}`` needs an API key from the same registry as the declaration services
(``CBEC_API_KEYS_FILE`` / ``CBEC_API_KEYS``; ``Authorization: Bearer <key>`` or ``X-Api-Key``).
A tenant is a party to a clearance when it sent one of its documents or is the platform
(``ebpCode``) the clearance key names (``ebpCode:orderNo``). Anyone else gets 404, as for a
clearance that does not exist, so its existence does not leak. A document's reason, errors and
receipt texts are shown whole only to its own sender; other parties see them masked
(:func:`cbec.privacy.log_filter.mask_text`), since customs' texts may quote the declarer's data.

With a :class:`~saga_service.notifications.Notifier`, the notification routes of
:mod:`saga_service.notification_api` too: each tenant pulls its own notifications; operators (a key
registry of their own) count and unblock.
"""

from __future__ import annotations

from typing import Any

from cbec.auth.keys import ApiKeyRegistry
from cbec.declaration.http import Problem, Unauthenticated, caller, problem
from cbec.privacy.log_filter import mask_text
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from saga_service import notification_api
from saga_service.application import SagaApp
from saga_service.domain import Clearance
from saga_service.notifications import Notifier


def parties(state: Clearance) -> set[str]:
    """The customs codes that may see ``state``: every document's sender and the clearance's platform."""
    found = {doc.sender for doc in state.docs.values() if doc.sender}
    platform = state.key.split(":", 1)[0] if ":" in state.key else ""
    return found | ({platform} if platform else set())


def masked_view(state: Clearance, view: dict[str, Any], viewer: str) -> dict[str, Any]:
    """``view`` with the free texts of documents ``viewer`` did not send masked."""
    for kind, shown in view["documents"].items():
        doc = state.docs.get(kind)
        if doc is not None and doc.sender == viewer:
            continue
        shown["reason"] = mask_text(str(shown.get("reason", "")))
        for receipt in shown.get("receipts", []):
            receipt["returnInfo"] = mask_text(str(receipt.get("returnInfo", "")))
    view["alerts"] = [mask_text(a) for a in view.get("alerts", [])]
    return view


def make_http_app(app: SagaApp, auth: ApiKeyRegistry | None = None, *, notifier: Notifier | None = None,
                  operators: ApiKeyRegistry | None = None) -> FastAPI:
    """The saga's API; ``auth`` holds the callers' API keys (none: every clearance read is 401),
    ``operators`` the operators' (none: every operator route is 401)."""
    api = FastAPI(title="cbec saga", version="1")
    api.state.api_keys = auth if auth is not None else ApiKeyRegistry()
    api.state.operator_keys = operators if operators is not None else ApiKeyRegistry()

    @api.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, __: Unauthenticated) -> JSONResponse:
        response = problem(401, "CBEC-0401", "a valid API key is required (Authorization: Bearer <key>)")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(notification_api.NotAnOperator)
    async def not_an_operator(_: Request, __: notification_api.NotAnOperator) -> JSONResponse:
        return problem(403, "CBEC-0403", "an operator's API key is required")

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/clearances/{key}", responses={401: {"model": Problem}, 404: {"model": Problem}})
    def clearance(key: str, tenant: str = Depends(caller)) -> JSONResponse:
        state = app.load(key)
        if not state.docs or tenant not in parties(state):
            return problem(404, "CBEC-0404", "no such clearance", "key", "lookup")
        return JSONResponse(masked_view(state, state.view(app.policy.gate), tenant))

    if notifier is not None:
        api.include_router(notification_api.router(notifier))
    return api
