"""HTTP routes of the 179 interface, mounted on the order service's API.

- ``POST /v1/data-open/{platform}/platDataOpen``: customs' request (form field ``openReq``), the
  address the platform registers with customs. It is answered as soon as the request is recorded:
  ``{"code":"10000"}``; a repeat of a ``sessionID`` is answered the same and changes nothing. A bad
  request is answered ``20000`` (the interface's failure code) with a message naming the field; a
  platform that is unknown, not a platform, or has 179 switched off is refused the same way. The
  answer never depends on the order: another platform's order and an unknown one look alike.
- ``POST /v1/data-open/payments``: a platform submits its payment raw data (API key; the caller must
  be the payment's ``ebpCode``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qs

from cbec.clock import Clock
from cbec.declaration.http import PRINTABLE, Caller, problem
from cbec.errors import CebError
from cbec.tenants import Role, TenantRegistry
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from order_service.data_open.payment_data import PaymentRawData
from order_service.data_open.store import DataOpenStore

OK, FAILED = "10000", "20000"
MAX_OPEN_REQ = 4096  # bytes of a platDataOpen body; the real one is about 120
SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
ORDER_NO = re.compile(r"^[^\x00-\x1f\x7f]{1,60}$")
MAX_PAYMENT_BODY = 1024 * 1024


class CodeAnswer(BaseModel):
    """Every answer of ``platDataOpen``: ``10000`` recorded, ``20000`` not (the message says why)."""

    code: str
    message: str
    serviceTime: int  # noqa: N815 - the interface's spelling


OPEN_REQ_BODY = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["openReq"],
    "properties": {"openReq": {"type": "string", "description": 'JSON {"orderNo","sessionID","serviceTime"}'}},
}}}}}


class BadOpenReq(ValueError):
    """The request cannot be read; the message names the field and the rule."""


def parse_open_req(body: bytes) -> tuple[str, str, int]:
    """``(orderNo, sessionID, serviceTime)`` of a ``platDataOpen`` body, or :class:`BadOpenReq`."""
    if len(body) > MAX_OPEN_REQ:
        raise BadOpenReq(f"openReq: the body is larger than {MAX_OPEN_REQ} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadOpenReq("openReq: the body must be an application/x-www-form-urlencoded form in UTF-8") from None
    values = fields.get("openReq", [])
    if len(values) != 1:
        raise BadOpenReq("openReq: the form must hold the field openReq exactly once")
    try:
        req = json.loads(values[0], parse_float=Decimal)
    except (ValueError, RecursionError):
        raise BadOpenReq("openReq: must be a JSON object") from None
    if not isinstance(req, dict):
        raise BadOpenReq("openReq: must be a JSON object")
    order_no, session_id, service_time = req.get("orderNo"), req.get("sessionID"), req.get("serviceTime")
    if not isinstance(order_no, str) or not ORDER_NO.match(order_no):
        raise BadOpenReq("openReq.orderNo: required, 1 to 60 characters, no control characters")
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        raise BadOpenReq("openReq.sessionID: required, 1 to 100 characters of A-Z a-z 0-9 . _ : -")
    if isinstance(service_time, str) and service_time.isdigit() and len(service_time) <= 15:
        service_time = int(service_time)
    if isinstance(service_time, bool) or not isinstance(service_time, int) or not 0 < service_time < 10**15:
        raise BadOpenReq("openReq.serviceTime: required, milliseconds since the epoch")
    return order_no, session_id, service_time


def answer(code: str, message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "serviceTime": int(time.time() * 1000)}, status)


def make_router(store: DataOpenStore, tenants: TenantRegistry, clock: Clock, wakeup: threading.Event) -> APIRouter:
    router = APIRouter(tags=["179 payment data"])

    def enabled(code: str) -> str | None:
        """Why ``code`` may not use the interface, or None."""
        if code not in tenants or Role.PLATFORM not in tenants.get(code).roles:
            return "no such platform"
        if not tenants.get(code).data_open:
            return "179 data opening is not enabled for this platform"
        return None

    @router.post("/v1/data-open/{platform}/platDataOpen",
                 response_model=CodeAnswer, openapi_extra=OPEN_REQ_BODY,
                 responses={400: {"description": "openReq unreadable (code 20000), or a control character in the path"},
                            403: {"model": CodeAnswer, "description": "179 is off for this platform (code 20000)"},
                            404: {"model": CodeAnswer, "description": "no such platform (code 20000)"},
                            413: {"description": "body too large"},
                            503: {"model": CodeAnswer, "description": "not recorded; ask again (code 20000)"}})
    async def plat_data_open(platform: Annotated[str, Path(pattern=PRINTABLE)],
                             request: Request) -> JSONResponse:
        refusal = enabled(platform)
        if refusal is not None:
            return answer(FAILED, refusal, 404 if refusal == "no such platform" else 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_OPEN_REQ:
                break
        try:
            order_no, session_id, service_time = parse_open_req(body)
        except BadOpenReq as bad:
            return answer(FAILED, str(bad), 400)
        try:
            new = await run_in_threadpool(store.record_request, platform, session_id, order_no, service_time,
                                          clock.now())
        except SQLAlchemyError:
            return answer(FAILED, "the request could not be recorded; ask again", 503)
        if new:
            wakeup.set()
        return answer(OK, "")

    @router.post("/v1/data-open/payments", status_code=202,
                 responses={403: {"description": "not the payment's platform, or 179 is off"},
                            413: {"description": "body too large"},
                            422: {"description": "refused, with the findings"}})
    async def payments(request: Request, tenant: Caller) -> JSONResponse:
        raw = await request.body()
        if len(raw) > MAX_PAYMENT_BODY:
            return problem(413, "CBEC-0413", f"the body is larger than {MAX_PAYMENT_BODY} bytes")
        try:
            data = PaymentRawData.model_validate_json(raw)
        except ValidationError as invalid:
            return _refused(invalid)
        platform = data.payExchangeInfoHead.ebpCode
        if tenant not in tenants or platform not in tenants or not tenants.get(tenant).may_act_for(platform):
            return problem(403, "CBEC-0403", "payExchangeInfoHead.ebpCode must be the calling platform",
                           "payExchangeInfoHead.ebpCode", "tenancy")
        refusal = enabled(platform)
        if refusal is not None:
            return problem(403, "CBEC-0403", refusal, "payExchangeInfoHead.ebpCode", "179")
        orders = await run_in_threadpool(store.put_payment, platform, data, clock.now())
        return JSONResponse({"result": "accepted", "orders": orders}, 202)

    return router


def _refused(invalid: ValidationError) -> JSONResponse:
    errors: list[dict[str, Any]] = []
    for e in invalid.errors(include_url=False, include_input=False):  # no personal data echoed
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
        errors.append(CebError("CBEC-0179", path, str(e["type"]), str(e["msg"])).to_dict())
    return JSONResponse({"result": "refused", "errors": errors[:100], "errorCount": len(errors)}, 422)
