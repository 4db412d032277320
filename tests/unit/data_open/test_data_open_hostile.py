"""Stories of hostile or mistaken calls to the 179 interface: each gets a clear answer (code 20000 and
the field at fault on ``platDataOpen``, a 4xx naming the field on the payment intake), never a 500;
nothing is recorded for it, and no platform's data reaches customs on another platform's address."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cbec.clock import FakeClock
from cbec.tenants import TenantRegistry
from data_open_world import OFF, OTHER, PLATFORM, World, build_world, payment, tenants
from order_service.data_open.keys import PlatformKeys


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def open_req(**fields: object) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"openReq": json.dumps(fields)}).encode()


GOOD = {"orderNo": f"{PLATFORM}-ORDER-1", "sessionID": "a1b2c3", "serviceTime": 1733530000000}
HOSTILE = {
    "empty body": (b"", "openReq"),
    "no openReq": (b"other=1", "openReq"),
    "openReq twice": (open_req(**GOOD) + b"&" + open_req(**GOOD), "openReq"),
    "not JSON": (b"openReq=%7Bnot+json", "openReq"),
    "a JSON array": (b"openReq=%5B1%2C2%5D", "openReq"),
    "not UTF-8": (b"openReq=\xff\xfe", "openReq"),
    "deeply nested": (b"openReq=" + b"%5B" * 1300, "openReq"),
    "no orderNo": (open_req(sessionID="s", serviceTime=1), "openReq.orderNo"),
    "orderNo too long": (open_req(**{**GOOD, "orderNo": "9" * 61}), "openReq.orderNo"),
    "orderNo with a line break": (open_req(**{**GOOD, "orderNo": "A\nB"}), "openReq.orderNo"),
    "orderNo a number": (open_req(**{**GOOD, "orderNo": 12345}), "openReq.orderNo"),
    "sessionID with a quote": (open_req(**{**GOOD, "sessionID": 'a"||"b'}), "openReq.sessionID"),
    "sessionID too long": (open_req(**{**GOOD, "sessionID": "s" * 101}), "openReq.sessionID"),
    "no serviceTime": (open_req(orderNo="o", sessionID="s"), "openReq.serviceTime"),
    "serviceTime negative": (open_req(**{**GOOD, "serviceTime": -5}), "openReq.serviceTime"),
    "serviceTime true": (open_req(**{**GOOD, "serviceTime": True}), "openReq.serviceTime"),
    "serviceTime a float": (open_req(**{**GOOD, "serviceTime": 1.5}), "openReq.serviceTime"),
    "serviceTime text": (open_req(**{**GOOD, "serviceTime": "soon"}), "openReq.serviceTime"),
    "oversized body": (b"openReq=" + b"x" * 100_000, "larger than"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_a_bad_open_req_is_answered_20000_naming_the_field_and_nothing_is_recorded(world: World, case: str) -> None:
    body, field = HOSTILE[case]
    answer = world.open_req(PLATFORM, content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "20000" and field in answer.json()["message"]
    assert world.store.audit_entries() == [] and world.store.due(datetime.now(UTC)) == []


def test_a_numeric_service_time_in_text_is_accepted(world: World) -> None:
    answer = world.open_req(PLATFORM, content=open_req(**{**GOOD, "serviceTime": "1733530000000"}))
    assert answer.json()["code"] == "10000"


def test_an_unknown_platform_address_is_answered_20000(world: World) -> None:
    answer = world.open_req("9999999999", content=open_req(**GOOD))
    assert answer.status_code == 404 and answer.json()["code"] == "20000"
    assert world.open_req("x" * 19, content=open_req(**GOOD)).status_code < 500


def test_a_platform_with_179_off_is_refused_and_nothing_is_recorded(world: World) -> None:
    answer = world.open_req(OFF, content=open_req(**GOOD))
    assert answer.status_code == 403 and answer.json()["code"] == "20000"
    assert "not enabled" in answer.json()["message"]
    refused = world.submit(OFF, payment(OFF, "O1"))
    assert refused.status_code == 403
    assert world.store.audit_entries() == []


def test_a_platform_switched_off_after_the_request_uploads_nothing(world: World) -> None:
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")
    world.uploader.tenants = TenantRegistry([t if t.customs_code != PLATFORM else
                                             type(t)(**{**{f: getattr(t, f) for f in t.__slots__},
                                                        "data_open": False})
                                             for t in tenants().all()])
    world.uploader.round()
    assert world.transport.posts == 0 and drill.uploaded_at is None
    assert world.store.request(drill.session_id).state == "failed"  # type: ignore[union-attr]


def test_another_platforms_order_asked_on_this_address_never_leaks(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    world = build_world(tmp_path, clock=clock, environ={"CBEC_DATA_OPEN_GIVE_UP_AFTER": "30"})
    world.submit(OTHER, payment(OTHER, f"{OTHER}-ORDER-1"))

    theirs = world.open_req(PLATFORM, content=open_req(**{**GOOD, "orderNo": f"{OTHER}-ORDER-1",
                                                           "sessionID": "s-theirs"}))
    unknown = world.open_req(PLATFORM, content=open_req(**{**GOOD, "orderNo": "NO-SUCH-ORDER",
                                                            "sessionID": "s-unknown"}))
    assert (theirs.status_code, theirs.json()["code"], theirs.json()["message"]) == (
        unknown.status_code, unknown.json()["code"], unknown.json()["message"])

    for _ in range(3):
        world.uploader.round()
        clock.advance(seconds=20)
    assert world.transport.posts == 0  # nothing of the other platform's was sent
    assert world.store.request("s-theirs").state == "failed"  # type: ignore[union-attr]


def test_a_platform_without_a_certificate_records_a_signing_failure(world: World) -> None:
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")
    world.uploader.signer = PlatformKeys({})
    world.uploader.round()
    assert world.transport.posts == 0
    assert world.store.audit_entries(PLATFORM)[-1].event == "sign-failed"
    assert drill.uploaded_at is None


def test_payment_data_needs_an_api_key_and_the_platforms_own_code(world: World) -> None:
    assert world.platform.post("/v1/data-open/payments", json=payment(PLATFORM, "O1")).status_code == 401
    answer = world.submit(OTHER, payment(OTHER, "O1"), as_=PLATFORM)
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["path"] == "payExchangeInfoHead.ebpCode"


BAD_PAYMENTS = {
    "not JSON": ("{", "$"),
    "an array": ([], "$"),
    "no lists": ({"payExchangeInfoHead": payment(PLATFORM, "O1")["payExchangeInfoHead"]}, "$.payExchangeInfoLists"),
    "a bad guid": ("guid", "$.payExchangeInfoHead.guid"),
    "an unknown field": ("extra", "$.payExchangeInfoHead.extra"),
    "a long payTransactionId": ("payTransactionId", "$.payExchangeInfoHead.payTransactionId"),
    "an order twice": ("twice", "$.payExchangeInfoLists"),
    "a bad tradingTime": ("tradingTime", "$.payExchangeInfoHead.tradingTime"),
}


@pytest.mark.parametrize("case", list(BAD_PAYMENTS), ids=list(BAD_PAYMENTS))
def test_bad_payment_data_is_refused_naming_the_field_without_echoing_it(world: World, case: str) -> None:
    kind, path = BAD_PAYMENTS[case]
    body: object = kind
    if kind in ("guid", "extra", "payTransactionId", "twice", "tradingTime"):
        body = payment(PLATFORM, "O1")
        head = body["payExchangeInfoHead"]  # type: ignore[index]
        head["initalRequest"] = "buyer 110101199001011234"  # personal data: never echoed
        if kind == "guid":
            head["guid"] = "not-a-guid"
        elif kind == "extra":
            head["extra"] = 1
        elif kind == "payTransactionId":
            head["payTransactionId"] = "9" * 61
        elif kind == "tradingTime":
            head["tradingTime"] = "2026-12-07"
        else:
            body = payment(PLATFORM, "O1", "O1")
    answer = world.platform.post("/v1/data-open/payments", content=body if isinstance(body, str) else json.dumps(body),
                                 headers={"Authorization": f"Bearer {world.api_keys[PLATFORM]}"})
    assert answer.status_code == 422, answer.text
    assert path in [e["path"] for e in answer.json()["errors"]]
    assert "110101199001011234" not in answer.text
    assert world.store.audit_entries() == []


def test_an_oversized_payment_body_is_413(world: World) -> None:
    answer = world.platform.post("/v1/data-open/payments", content=b"x" * (1024 * 1024 + 1),
                                 headers={"Authorization": f"Bearer {world.api_keys[PLATFORM]}"})
    assert answer.status_code == 413


def test_a_request_whose_stored_data_cannot_be_read_does_not_stop_the_others(world: World) -> None:
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-2"))
    with world.store.engine.begin() as conn:
        conn.execute(world.store.payments.update().where(world.store.payments.c.order_no == f"{PLATFORM}-ORDER-1")
                     .values(body=b"\x00garbage"))
    broken = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")
    fine = world.drill(PLATFORM, f"{PLATFORM}-ORDER-2")

    assert world.uploader.round() == 2
    assert fine.passed and broken.uploaded_at is None
    assert world.store.request(broken.session_id).state == "pending"  # type: ignore[union-attr]
    assert "error" in [e.event for e in world.store.audit_entries(PLATFORM)]
