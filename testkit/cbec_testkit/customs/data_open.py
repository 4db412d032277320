"""Customs' side of 179 (公告2018年第179号), for tests and the registration audit drill.

:class:`DataOpenCustoms` plays the 通关服务系统: it draws a random same-day order of a registered
platform, POSTs ``platDataOpen`` to the platform's address and times the acknowledgement (it must
come within a second), then serves ``realTimeDataUpload`` and checks the upload the platform sends
back: the fields and their lengths, the session and the order it asked for, the certificate the
platform registered, the signature over the ``||``-joined signing input (either form of ceb-formats
§7) and that it arrived in time. The checks are written here from the interface text, independently
of the platform's code, so the two cannot share a mistake.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
from cbec.signing.certs import certificate_info
from cbec.signing.keys import verify_signature
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ACK_WITHIN = 1.0  # seconds
UPLOAD_WITHIN = 60.0  # seconds the drill waits for the upload by default
HEAD_LIMITS = {"guid": 36, "initalRequest": 8000, "initalResponse": 8000, "ebpCode": 18, "payCode": 18,
               "payTransactionId": 60, "currency": 4, "verDept": 1, "tradingTime": 14}
LIST_LIMITS = {"orderNo": 60, "recpAccount": 60, "recpName": 100}


@dataclass(frozen=True)
class Platform:
    code: str
    address: str  # the platDataOpen URL the platform registered
    certificate: bytes  # PEM or DER of the certificate it registered


@dataclass
class Drill:
    """One request of customs and what became of it."""

    platform: str
    order_no: str
    session_id: str
    requested_at: float
    ack_seconds: float = 0.0
    ack: dict[str, Any] = field(default_factory=dict)
    uploaded_at: float | None = None
    signing_form: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.uploaded_at is not None and not self.problems


class DataOpenCustoms:
    """Registered platforms, their same-day orders, the drills run and the uploads received."""

    def __init__(self, *, seed: int = 179, upload_within: float = UPLOAD_WITHIN) -> None:
        self.platforms: dict[str, Platform] = {}
        self.orders: dict[str, list[str]] = {}
        self.drills: dict[str, Drill] = {}
        self.upload_within = upload_within
        self._random = random.Random(seed)

    def register(self, platform: Platform, same_day_orders: list[str]) -> None:
        self.platforms[platform.code] = platform
        self.orders[platform.code] = list(same_day_orders)

    def request(self, platform: str, client: httpx.Client, *, order_no: str | None = None) -> Drill:
        """POST ``platDataOpen`` for a random same-day order (or ``order_no``) and time the answer."""
        order = order_no or self._random.choice(self.orders[platform])
        drill = Drill(platform, order, uuid.uuid4().hex, time.monotonic())
        self.drills[drill.session_id] = drill
        open_req = json.dumps({"orderNo": order, "sessionID": drill.session_id,
                               "serviceTime": int(time.time() * 1000)})
        started = time.monotonic()
        try:
            response = client.post(self.platforms[platform].address, data={"openReq": open_req}, timeout=ACK_WITHIN)
            drill.ack = response.json() if response.headers.get("content-type", "").startswith(
                "application/json") else {}
        except httpx.HTTPError as error:
            drill.problems.append(f"platDataOpen: no answer ({type(error).__name__})")
        drill.ack_seconds = time.monotonic() - started
        if drill.ack_seconds >= ACK_WITHIN:
            drill.problems.append(f"platDataOpen: answered after {drill.ack_seconds:.3f} s (limit {ACK_WITHIN} s)")
        if drill.ack.get("code") != "10000":
            drill.problems.append(f"platDataOpen: code {drill.ack.get('code')!r}, expected '10000'")
        return drill

    def app(self) -> FastAPI:
        """The ``realTimeDataUpload`` endpoint (``/ceb2grab/grab/realTimeDataUpload``)."""
        api = FastAPI(title="customs 179 data upload (simulated)")

        @api.post("/ceb2grab/grab/realTimeDataUpload")
        async def upload(request: Request) -> JSONResponse:
            fields = parse_qs((await request.body()).decode("utf-8", "replace"))
            text = fields.get("payExInfoStr", [""])[0]
            code, message = self.receive(text)
            return JSONResponse({"code": code, "message": message, "total": 0,
                                 "serviceTime": int(time.time() * 1000)})

        return api

    def receive(self, text: str) -> tuple[str, str]:
        """Check one ``payExInfoStr``; ``(code, message)`` as customs answers."""
        try:
            data = json.loads(text, parse_float=Decimal)
        except ValueError:
            return "20001", "payExInfoStr is not JSON"
        if not isinstance(data, dict):
            return "20001", "payExInfoStr is not a JSON object"
        drill = self.drills.get(str(data.get("sessionID")))
        if drill is None:
            return "20001", "unknown sessionID"
        if drill.uploaded_at is not None:
            drill.problems.append("upload: the session was uploaded twice")
            return "20001", "sessionID uploaded before"
        drill.uploaded_at = time.monotonic()
        if drill.uploaded_at - drill.requested_at > self.upload_within:
            drill.problems.append(f"upload: after {drill.uploaded_at - drill.requested_at:.1f} s "
                                  f"(limit {self.upload_within} s)")
        drill.problems.extend(self._check(drill, data))
        if drill.problems:
            return "20000", "; ".join(drill.problems)[:500]
        return "10000", "上传成功"

    def _check(self, drill: Drill, data: dict[str, Any]) -> list[str]:
        problems = []
        head, lists = data.get("payExchangeInfoHead"), data.get("payExchangeInfoLists")
        if not isinstance(head, dict) or not isinstance(lists, list) or not lists:
            return ["payExchangeInfoHead (object) and payExchangeInfoLists (non-empty array) are required"]
        for key, limit in HEAD_LIMITS.items():
            value = head.get(key)
            if not isinstance(value, str) or not 0 < len(value) <= limit:
                problems.append(f"payExchangeInfoHead.{key}: required, at most {limit} characters")
        if isinstance(head.get("guid"), str) and head["guid"] != head["guid"].upper():
            problems.append("payExchangeInfoHead.guid: must be uppercase")
        if not isinstance(head.get("totalAmount"), (int, Decimal)):
            problems.append("payExchangeInfoHead.totalAmount: required number")
        if not re.fullmatch(r"[0-9]{14}", str(head.get("tradingTime", ""))):
            problems.append("payExchangeInfoHead.tradingTime: yyyyMMddHHmmss")
        if head.get("ebpCode") != drill.platform:
            problems.append("payExchangeInfoHead.ebpCode: not the platform that was asked")
        for i, item in enumerate(lists):
            if not isinstance(item, dict):
                problems.append(f"payExchangeInfoLists[{i}]: must be an object")
                continue
            for key, limit in LIST_LIMITS.items():
                value = item.get(key)
                if not isinstance(value, str) or not 0 < len(value) <= limit:
                    problems.append(f"payExchangeInfoLists[{i}].{key}: required, at most {limit} characters")
            goods = item.get("goodsInfo")
            if not isinstance(goods, list) or not goods or not all(
                    isinstance(g, dict) and g.get("gname") and g.get("itemLink") for g in goods):
                problems.append(f"payExchangeInfoLists[{i}].goodsInfo: gname and itemLink required")
        if [item.get("orderNo") for item in lists if isinstance(item, dict)] != [drill.order_no]:
            problems.append("payExchangeInfoLists: must hold exactly the order that was asked for")
        if not isinstance(data.get("serviceTime"), int):
            problems.append("serviceTime: required, milliseconds")
        problems.extend(self._check_signature(drill, data))
        return problems

    def _check_signature(self, drill: Drill, data: dict[str, Any]) -> list[str]:
        registered = certificate_info(self.platforms[drill.platform].certificate)
        cert_no = str(data.get("certNo", ""))
        try:
            same = int(cert_no, 16) == int(registered.serial_hex, 16)  # serials compare as numbers
        except ValueError:
            same = False
        if not same:
            return [f"certNo: {cert_no!r} is not the certificate the platform registered"]
        try:
            signature = base64.b64decode(str(data.get("signValue", "")), validate=True)
        except ValueError:
            return ["signValue: not base64"]
        for form, text in signing_inputs(data).items():
            if verify_signature(registered.algorithm, registered.der, text.encode("utf-8"), signature):
                drill.signing_form = form
                return []
        return ["signValue: does not verify over the ||-joined signing input (either form)"]


def _compact(value: Any) -> str:
    """JSON as received, compact: field order kept, numbers as written, UTF-8 text unescaped."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def signing_inputs(data: dict[str, Any]) -> dict[str, str]:
    """Both forms of the signing input (ceb-formats §7): the working clients' and the spec sample's."""
    session, time_ms = str(data.get("sessionID")), data.get("serviceTime")
    head, lists = _compact(data.get("payExchangeInfoHead")), _compact(data.get("payExchangeInfoLists"))
    return {
        "implementations": "||".join([f'"sessionID":"{session}"', f'"payExchangeInfoHead":"{head}"',
                                      f'"payExchangeInfoLists":"{lists}"', f'"serviceTime":"{time_ms}"']),
        "spec-sample": "||".join([f'"sessionID":{json.dumps(session, ensure_ascii=False)}',
                                  f'"payExchangeInfoHead":{head}', f'"payExchangeInfoList":{lists}',
                                  f'"serviceTime":{time_ms}']),
    }
