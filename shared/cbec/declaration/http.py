"""The HTTP face of a declaration service: declare documents, read one, list one's own (paged).

Every route but ``/health`` needs an API key (``Authorization: Bearer <key>`` or ``X-Api-Key``).
The caller's tenant must be the command's sender (else 403) and reads only documents it is a party
to; any other document is reported missing (404), so its existence does not leak. Personal data in
a returned document is masked for the parties that need not see it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cbec.auth.keys import ApiKeyRegistry
from cbec.contracts.commands import CommandRejected, declare_from_object
from cbec.contracts.schema_check import check_declare
from cbec.declaration import shape, statuses
from cbec.declaration.application import DeclarationApp
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.openapi import self_contained
from cbec.declaration.ports import VersionConflict
from cbec.declaration.views import status_view
from cbec.errors import CebError
from cbec.http_limits import RequestLimits
from cbec.intake_limits import TOO_LARGE, LimitBreached, load_json
from cbec.privacy.log_filter import mask_text
from cbec.privacy.masking import mask_document, viewer_roles
from cbec.readmodel.cursor import BadCursor
from cbec.readmodel.projection import Projection
from cbec.readmodel.tables import MAX_LIMIT, ReadModel

log = logging.getLogger(__name__)

DECLARE_SCHEMA_URI = "https://schemas.cbec.example/commands/declare-document.json"


class ErrorItem(BaseModel):
    code: str
    path: str
    rule: str
    message: str


class DeclareResult(BaseModel):
    result: str  # accepted | duplicate | refused
    status: str
    streamId: str | None  # noqa: N815
    errors: list[ErrorItem]  # the first findings (at most CBEC_MAX_FINDINGS)
    errorCount: int  # noqa: N815 - every finding, also those left out of ``errors``


class DocumentSummary(BaseModel):
    streamId: str  # noqa: N815
    docType: str  # noqa: N815
    businessKey: list[str]  # noqa: N815
    status: str
    statusCode: int | None  # noqa: N815
    phase: str
    clearanceKey: str  # noqa: N815
    updatedAt: str  # noqa: N815


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    nextCursor: str | None  # noqa: N815


class Problem(BaseModel):
    errors: list[ErrorItem]


def problem(status: int, code: str, message: str, path: str = "$", rule: str = "http") -> JSONResponse:
    return JSONResponse({"errors": [CebError(code, path, rule, message).to_dict()]}, status)


class Unauthenticated(Exception):  # noqa: N818 - reads as the state of the caller
    """No key, or a key the registry does not know."""


_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="API key")


def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The calling tenant's customs code, from its API key (``app.state.api_keys``)."""
    registry: ApiKeyRegistry = request.app.state.api_keys
    key = bearer.credentials if bearer is not None else api_key
    tenant = registry.authenticate(key) if key else None
    if tenant is None:
        raise Unauthenticated()
    return tenant


Caller = Annotated[str, Depends(caller)]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # what RequestLimits lets through (a control character is 400)


def make_router(
    app: DeclarationApp,
    *,
    readmodel: ReadModel | None = None,
    projection: Projection | None = None,
    validate_schema: bool = True,
) -> APIRouter:
    """The routes; the including app holds the key registry in ``app.state.api_keys``."""
    router = APIRouter()
    limits = app.limits

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.post(
        "/v1/documents",
        status_code=202,
        responses={
            200: {"model": DeclareResult, "description": "a repeat of a stored command"},
            202: {"model": DeclareResult, "description": "accepted"},
            400: {"model": Problem, "description": "a parameter holds a control character"},
            403: {"model": Problem},
            409: {"model": Problem},
            413: {"model": Problem, "description": "the body is larger than CBEC_MAX_BODY_BYTES"},
            422: {"model": DeclareResult, "description": "refused, with the first findings and their count"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": DECLARE_SCHEMA_URI}}},
            }
        },
    )
    async def declare(request: Request, tenant: Caller) -> JSONResponse:
        raw = await request.body()  # RequestLimits has bounded it
        try:
            body = load_json(raw, limits)
        except LimitBreached as bad:
            if bad.errors[0].code == TOO_LARGE:
                return problem(413, TOO_LARGE, bad.errors[0].message, "$", bad.errors[0].rule)
            return refused(bad.errors)
        if not isinstance(body, dict):
            return refused([CebError("CBEC-0001", "$", "JSON", "the body must be one command (a JSON object)")])
        if body.get("sender") != tenant:
            return problem(
                403, "CBEC-0403", "sender must be the customs code of the calling tenant", "sender", "tenancy"
            )
        too_many = _lines(app, body)  # before the schema looks at any line
        if too_many:
            return refused(too_many)
        if validate_schema:
            findings = check_declare(body)
            if findings:
                return refused(findings, limits.max_findings)
        try:
            command = declare_from_object(body)
        except CommandRejected as rejected:
            return refused(rejected.errors, limits.max_findings)
        try:
            outcome = await run_in_threadpool(app.declare, command)  # blocking store I/O
        except VersionConflict:
            return problem(
                409, "CBEC-0409", "the document changed concurrently; retry", "document", "concurrency"
            )
        content = {
            "result": outcome.result,
            "status": outcome.status,
            "streamId": str(outcome.stream_id) if outcome.stream_id else None,
            "errors": [e.to_dict() for e in outcome.errors],
            "errorCount": outcome.error_count,
        }
        code = {"accepted": 202, "duplicate": 200}.get(outcome.result, 422)
        headers = {}
        doc_type = app.doc_types.get(command.doc_type)
        if code != 422 and doc_type is not None:
            headers["Location"] = _location(doc_type.code, doc_type.business_key(command.document))
        return JSONResponse(content, code, headers=headers)

    @router.get("/v1/documents/{doc_type}/{key:path}", responses={400: {"model": Problem}, 404: {"model": Problem}})
    def document(
        doc_type: Annotated[str, Path(pattern=PRINTABLE)],
        key: Annotated[str, Path(pattern=PRINTABLE)],
        tenant: Caller,
    ) -> JSONResponse:
        state = app.find(doc_type, tuple(key.split("/"))) if doc_type in app.doc_types else None
        roles = viewer_roles(tenant, state.document, state.sender) if state is not None else frozenset()
        if state is None or not roles:
            return problem(404, "CBEC-0404", "no such document", "key", "lookup")
        view = status_view(state)
        view["businessKey"] = key.split("/")
        if state.document is not None:
            view["document"] = mask_document(state.document, roles)
        if "declarer" not in roles:  # findings may quote the declarer's data
            view["errors"] = [{k: mask_text(str(v)) for k, v in e.items()} for e in view["errors"]]
        return JSONResponse(view)

    @router.get("/v1/documents", response_model=DocumentPage,
                responses={400: {"model": Problem}, 503: {"model": Problem}})
    def documents(
        tenant: Caller,
        status: Annotated[str | None, Query(pattern=PRINTABLE)] = None,
        docType: Annotated[str | None, Query(pattern=PRINTABLE)] = None,  # noqa: N803 - the public name
        cursor: Annotated[str | None, Query(pattern=PRINTABLE)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        number: Annotated[str | None, Query(pattern=PRINTABLE, max_length=100)] = None,
        clearanceKey: Annotated[str | None, Query(pattern=PRINTABLE, max_length=200)] = None,  # noqa: N803
        spansClearance: Annotated[str | None, Query(  # noqa: N803
            pattern=PRINTABLE, max_length=200,
            description="documents spanning several clearances (clearanceKeys) that name this one")] = None,
        updatedFrom: Annotated[str | None, ISO_TIME] = None,  # noqa: N803
        updatedBefore: Annotated[str | None, ISO_TIME] = None,  # noqa: N803
    ) -> JSONResponse:
        if readmodel is None:
            return problem(503, "CBEC-0503", "listing is not configured on this service")
        times: dict[str, datetime | None] = {}
        for name, text in (("updatedFrom", updatedFrom), ("updatedBefore", updatedBefore)):
            try:
                times[name] = _iso_time(text)
            except ValueError as bad:
                return problem(400, "CBEC-0400", f"{name} is not an ISO 8601 date-time: {bad}", name, "date-time")
        since, before = times["updatedFrom"], times["updatedBefore"]
        if projection is not None:
            projection.catch_up()  # read your own writes
        try:
            page = readmodel.list(tenant, status=status, doc_type=docType, cursor=cursor, limit=limit, number=number,
                                  clearance_key=clearanceKey, spans_clearance=spansClearance, updated_from=since,
                                  updated_before=before)
        except BadCursor as bad:
            return problem(400, "CBEC-0400", str(bad), "cursor", "paging")
        return JSONResponse({"items": [row.to_json() for row in page.items], "nextCursor": page.next_cursor})

    return router


# An ISO 8601 date-time as the OpenAPI document says (pydantic's datetime would also take a number).
ISO_TIME = Query(pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$",
                 json_schema_extra={"format": "date-time"})


def _iso_time(text: str | None) -> datetime | None:
    """The time in ``text``; one without a zone is UTC (the read model stores aware times)."""
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def refused(errors: list[CebError], max_findings: int | None = None) -> JSONResponse:
    """422 with the first ``max_findings`` findings and the count of all of them."""
    kept = errors if max_findings is None else errors[:max_findings]
    return JSONResponse(
        {
            "result": "refused",
            "status": statuses.REFUSED_AT_INTAKE,
            "streamId": None,
            "errors": [e.to_dict() for e in kept],
            "errorCount": len(errors),
        },
        422,
    )


def _lines(app: DeclarationApp, body: dict[str, Any]) -> list[CebError]:
    """The line limit of the command's document type, checked on the raw command."""
    code = str(body.get("docType", ""))
    doc_type, document, policy = BY_CODE.get(code), body.get("document"), app.policies.get(code)
    if doc_type is None or not isinstance(document, dict):
        return []
    found = shape.check_lines(doc_type, document, policy.too_many_lines_code if policy else shape.TOO_MANY_LINES,
                              policy.max_lines if policy else None)
    return [CebError(e.code, f"document.{e.path}", e.rule, e.message) for e in found]


def _location(doc_type: str, key: tuple[str, ...]) -> str:
    """The document's address; each key part escaped, so no key can make the header illegal."""
    return f"/v1/documents/{doc_type}/" + "/".join(quote(part, safe="") for part in key)


def make_http_app(
    app: DeclarationApp,
    service: str,
    *,
    auth: ApiKeyRegistry | None = None,
    readmodel: ReadModel | None = None,
    projection: Projection | None = None,
    validate_schema: bool = True,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """The service's API; ``auth`` holds the callers' API keys (none: every authenticated call is 401).

    Bodies over ``max_body_bytes`` (default: the app's ``limits.max_bytes``) are answered 413 while
    they are read; a parameter holding a control character is answered 400 (:mod:`cbec.http_limits`).

    Without ``readmodel`` the listing answers 503; with ``projection`` a listing first catches the
    read model up, so a caller sees its own declarations at once.
    """
    api = FastAPI(
        title=f"cbec {service} service",
        version="1",
        description="Declare CEB documents and follow their customs status.",
    )
    registry = auth if auth is not None else ApiKeyRegistry()
    if not len(registry):
        log.warning("%s: no API keys configured; every authenticated call will be refused", service)

    @api.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, __: Unauthenticated) -> JSONResponse:
        response = problem(401, "CBEC-0401", "a valid API key is required (Authorization: Bearer <key>)")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        """A query or path parameter breaking its declared limits is 400 naming it, as a control character in
        one is (:mod:`cbec.http_limits`), not the framework's 422 in another shape."""
        found = [e for e in error.errors() if e.get("loc", ("",))[0] in ("query", "path")]
        if not found:
            return await request_validation_exception_handler(request, error)
        first = found[0]
        name = str(first["loc"][-1])
        return problem(400, "CBEC-0400", f"{name}: {first.get('msg', 'invalid')}", name, str(first.get("type", "")))

    api.state.api_keys = registry

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = self_contained(get_openapi(
                title=api.title, version=api.version, description=api.description, routes=api.routes,
            ), app.doc_types)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    api.add_middleware(RequestLimits, max_body_bytes=max_body_bytes or app.limits.max_bytes)
    api.include_router(
        make_router(app, readmodel=readmodel, projection=projection, validate_schema=validate_schema)
    )
    return api
