"""The notification routes of the saga's API.

Tenants (their API key, as for the clearance view) pull their own notifications, never another's:

* ``GET /v1/notifications?after=<cursor>&limit=N[&pending=true]`` (N from 1 to 200, 100 by default;
  a cursor this API did not hand out is 400): the caller's notifications after
  the cursor, oldest first, and ``next``, the cursor to ask with next time (the same one when nothing
  is new). ``pending=true``: only those neither pushed nor acknowledged.
* ``POST /v1/notifications/{notificationId}/acknowledge``: 204, also when repeated; 404 for an id the
  caller has no notification of (another tenant's included).

Operators (keys of the operators' own registry, ``CBEC_OPERATOR_API_KEYS_FILE`` /
``CBEC_OPERATOR_API_KEYS``; a tenant's key is 403 here):

* ``GET /v1/operator/notifications[?tenant=X]``: per tenant, queued and failed counts and the breaker.
* ``POST /v1/operator/notifications/{tenant}/unblock``: let a blocked tenant's queue drain now.
"""

from __future__ import annotations

from typing import Annotated, Any

from cbec.auth.keys import ApiKeyRegistry
from cbec.declaration.http import PRINTABLE, Problem, Unauthenticated, caller, problem
from cbec.readmodel import cursor as cursors
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from saga_service.notifications import Notifier, view

MAX_LIMIT = 200
_bearer = HTTPBearer(auto_error=False, description="operator API key as a bearer token")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="operator API key")


class NotAnOperator(Exception):  # noqa: N818 - reads as the state of the caller
    """A valid tenant key on an operator route."""


def operator(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The calling operator's name, from the operators' registry (``app.state.operator_keys``)."""
    key = bearer.credentials if bearer is not None else api_key
    operators: ApiKeyRegistry = request.app.state.operator_keys
    name = operators.authenticate(key) if key else None
    if name is not None:
        return name
    tenants: ApiKeyRegistry = request.app.state.api_keys
    if key and tenants.authenticate(key) is not None:
        raise NotAnOperator()
    raise Unauthenticated()


def router(notifier: Notifier) -> APIRouter:
    routes = APIRouter()
    errors: dict[int | str, dict[str, Any]] = {400: {"model": Problem}, 401: {"model": Problem}}

    @routes.get("/v1/notifications", responses=errors)
    def pull(tenant: Annotated[str, Depends(caller)],
             after: Annotated[str | None, Query(pattern=PRINTABLE, max_length=200)] = None,
             limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100, pending: bool = False) -> JSONResponse:
        try:
            position = cursors.decode(after) if after else 0
        except cursors.BadCursor as bad:
            return problem(400, "CBEC-0400", str(bad), "after", "paging")
        items = notifier.page(tenant, position, limit, pending=pending)
        shown = [view(item, cursors.encode(item.seq)) for item in items]
        return JSONResponse({"items": shown, "next": shown[-1]["cursor"] if shown else cursors.encode(position)})

    @routes.post("/v1/notifications/{notification_id}/acknowledge", status_code=204,
                 responses={401: {"model": Problem}, 404: {"model": Problem}})
    def acknowledge(notification_id: Annotated[str, Path(max_length=200)],
                    tenant: Annotated[str, Depends(caller)]) -> Response:
        if not notifier.acknowledge(tenant, notification_id):
            return problem(404, "CBEC-0404", "no such notification", "notificationId", "lookup")
        return Response(status_code=204)

    @routes.get("/v1/operator/notifications", responses={401: {"model": Problem}, 403: {"model": Problem}})
    def count(_: Annotated[str, Depends(operator)],
              tenant: Annotated[str | None, Query(pattern=PRINTABLE, max_length=40)] = None) -> JSONResponse:
        return JSONResponse({"tenants": [s.to_json() for s in notifier.count(tenant)]})

    @routes.post("/v1/operator/notifications/{tenant}/unblock",
                 responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}})
    def unblock(tenant: Annotated[str, Path(max_length=40)], _: Annotated[str, Depends(operator)]) -> JSONResponse:
        if not notifier.count(tenant):
            return problem(404, "CBEC-0404", "no notifications for this tenant", "tenant", "lookup")
        return JSONResponse({"tenant": tenant, "unblocked": notifier.unblock(tenant)})

    return routes
