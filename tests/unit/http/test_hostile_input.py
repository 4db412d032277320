"""Stories of hostile requests to a declaration service's HTTP API: each gets a 4xx naming the field
and the rule, never a 500, and nothing is stored for it."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.http import make_http_app
from cbec.http_limits import RequestLimits
from cbec.readmodel import Projection, ReadModel
from cbec_testkit.memory import InMemoryDeclarationStore, MemorySource
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import demo_registry
from fastapi.testclient import TestClient
from order_service.domain import ORDER_POLICY


class Api:
    def __init__(self, max_body_bytes: int | None = None) -> None:
        self.store = InMemoryDeclarationStore()
        app = DeclarationApp([ORDER_POLICY], self.store, demo_registry(), ceb_bridge.validate, ceb_bridge.render)
        key, record = issue_key(PLATFORM)
        readmodel = ReadModel.open("sqlite:///:memory:", "order")
        api = make_http_app(app, "order", auth=ApiKeyRegistry([record]), readmodel=readmodel,
                            projection=Projection(MemorySource(self.store), readmodel), max_body_bytes=max_body_bytes)
        self.client = TestClient(api, raise_server_exceptions=False)
        self.headers = {"Authorization": f"Bearer {key}"}

    def post(self, body: dict[str, Any] | None = None, *, content: bytes | None = None) -> Any:
        if content is None:
            content = json.dumps(body, ensure_ascii=True).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        return self.client.post("/v1/documents", content=content, headers=headers)

    def stored(self) -> list[str]:
        return [t for _, _, t, _ in self.store.log]


def command(n: int = 1, lines: int = 1, **head: Any) -> dict[str, Any]:
    document = order_document(n, random.Random(n), lines=lines)
    document["OrderHead"].update(head)
    return {"commandId": f"c-{n}", "sender": PLATFORM, "docType": "CEB311", "document": document}


def finding(answer: Any, status: int) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    return dict(answer.json()["errors"][0])


@pytest.fixture
def api() -> Api:
    return Api()


def test_a_body_over_the_limit_is_413_before_it_is_read() -> None:
    api = Api(max_body_bytes=50_000)
    body = command()
    body["document"]["OrderHead"]["note"] = "x" * 60_000
    assert finding(api.post(body), 413)["code"] == "CBEC-0413"
    assert api.stored() == []


def test_a_chunked_body_without_a_length_is_413_too() -> None:
    api = Api(max_body_bytes=10_000)
    chunks = (b"x" * 1000 for _ in range(100))
    headers = {**api.headers, "Content-Type": "application/json"}
    answer = api.client.post("/v1/documents", content=chunks, headers=headers)
    assert finding(answer, 413)["code"] == "CBEC-0413"


def test_a_streamed_body_is_cut_off_at_the_limit_not_read_whole() -> None:
    """No Content-Length: the middleware counts the chunks and stops asking for more at the limit."""
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}  # an endless upload

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:  # reads like Request.body(): until the body ends
            await receive()

    scope = {"type": "http", "method": "POST", "path": "/v1/documents", "query_string": b"", "headers": []}
    asyncio.run(RequestLimits(app, max_body_bytes=10 * 1024)(scope, receive, send))
    assert asked == 11 and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["code"] == "CBEC-0413"


def test_json_a_hundred_thousand_levels_deep_is_422_not_a_recursion_error(api: Api) -> None:
    answer = api.post(content=b'{"sender": "' + PLATFORM.encode() + b'", "document": ' + b"[" * 100_000
                      + b"]" * 100_000 + b"}")
    assert finding(answer, 422)["code"] == "CBEC-0011"


@pytest.mark.parametrize("field", ["buyerName", "orderNo", "note"])
def test_a_lone_surrogate_anywhere_is_422_naming_the_field(api: Api, field: str) -> None:
    found = finding(api.post(command(**{field: "A\ud800"})), 422)
    assert found["code"] == "CBEC-0012" and found["path"] == f"document.OrderHead.{field}"
    assert api.stored() == []


def test_a_lone_surrogate_in_a_field_name_is_422(api: Api) -> None:
    body = command()
    body["document"]["OrderHead"]["\udc00"] = "1"
    assert finding(api.post(body), 422)["code"] == "CBEC-0012"


@pytest.mark.parametrize("order_no", ["ＤＥＭＯ０００１", "DEMO\u200b0001", "DEMO\t0001", "DEMO 0001", "DEMO/0001",
                                      "DEMO\u00000001"])
def test_a_business_key_customs_would_not_take_is_422_and_nothing_is_sent(api: Api, order_no: str) -> None:
    found = finding(api.post(command(orderNo=order_no)), 422)
    assert found["path"].endswith("orderNo") and found["code"] in ("CBEC-0012", "CBEC-0013")
    assert api.stored() == []


def test_a_nul_in_a_query_parameter_is_400_naming_it(api: Api) -> None:
    answer = api.client.get("/v1/documents", params={"status": "released\x00"}, headers=api.headers)
    assert finding(answer, 400)["path"] == "status"


def test_a_control_character_in_the_path_is_400(api: Api) -> None:
    answer = api.client.get(f"/v1/documents/CEB311/{PLATFORM}/DEMO%00", headers=api.headers)
    assert finding(answer, 400)["path"] == "path"


def test_a_hundred_lines_are_one_finding_not_thousands(api: Api) -> None:
    body = command()
    body["document"]["OrderList"] = [{}] * 5_000
    answer = api.post(body)
    found = finding(answer, 422)
    assert found["code"] == "CBEC-0014" and found["path"] == "document.OrderList"
    assert answer.json()["errorCount"] == 1


def test_at_most_a_hundred_findings_come_back_with_their_count(api: Api) -> None:
    body = command(lines=99)
    for line in body["document"]["OrderList"]:
        line.update({name: 1 for name in line})  # every field of every line the wrong type
    answer = api.post(body)
    assert answer.status_code == 422
    assert len(answer.json()["errors"]) == 100 and answer.json()["errorCount"] > 100


def test_a_body_that_is_not_one_command_is_422(api: Api) -> None:
    assert finding(api.post(content=b"[1, 2]"), 422)["code"] == "CBEC-0001"
    assert finding(api.post(content=b"\xff\xfe"), 422)["code"] == "CBEC-0001"


def test_an_accepted_document_answers_the_same_to_a_retry(api: Api) -> None:
    body = command()
    first = api.post(body)
    again = api.post(body)
    assert first.status_code == 202 and again.status_code == 200
    assert first.headers["Location"] == again.headers["Location"]
    assert again.json()["streamId"] == first.json()["streamId"] and again.json()["result"] == "duplicate"


@pytest.mark.parametrize(("name", "value"), [
    ("spansClearance", "C" * 201), ("spansClearance", "CLR\x01"), ("spansClearance", "CLR\u2028\x7f"),
    ("clearanceKey", "C" * 201), ("number", "N" * 101),
])
def test_an_overlong_or_odd_listing_filter_is_400_naming_it_like_every_filter(api: Api, name: str, value: str) -> None:
    answer = api.client.get("/v1/documents", params={name: value}, headers=api.headers)
    assert finding(answer, 400)["path"] == name


def test_the_listing_by_a_spanned_clearance_is_documented_with_its_limits(api: Api) -> None:
    parameters = api.client.get("/openapi.json").json()["paths"]["/v1/documents"]["get"]["parameters"]
    [spans] = [p for p in parameters if p["name"] == "spansClearance"]
    schema = spans["schema"].get("anyOf", [spans["schema"]])[0]
    assert schema["maxLength"] == 200 and "pattern" in schema


def test_another_enterprise_s_clearance_lists_nothing_as_an_unknown_one_does(api: Api) -> None:
    assert api.post(command(1)).status_code == 202
    for clearance in (f"{PLATFORM}|DEMO0001", "someone-else|X", "%", "*"):
        answer = api.client.get("/v1/documents", params={"spansClearance": clearance}, headers=api.headers)
        assert answer.status_code == 200 and answer.json()["items"] == []
