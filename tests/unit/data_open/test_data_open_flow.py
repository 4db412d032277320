"""Stories of the 179 interface against customs played by the simulator: customs asks for a random
same-day order, the platform acknowledges within a second, uploads the signed payment raw data
later, and the simulator checks fields, certificate, signature and timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cbec.clock import FakeClock
from cbec.readmodel import ReadModel
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from data_open_world import OFF, OTHER, PLATFORM, build_world, payment, tenants
from fastapi.testclient import TestClient
from order_service import bootstrap as order
from order_service.data_open.keys import PlatformKeys
from order_service.data_open.payload import signing_input
from order_service.data_open.payment_data import PaymentRawData
from order_service.data_open.wiring import problems


def test_customs_drill_of_a_random_same_day_order_passes_with_an_sm2_platform(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    orders = [f"{PLATFORM}-ORDER-{n}" for n in range(1, 6)]
    assert world.submit(PLATFORM, payment(PLATFORM, *orders[:3])).status_code == 202
    assert world.submit(PLATFORM, payment(PLATFORM, *orders[3:])).status_code == 202

    drill = world.drill(PLATFORM)  # the simulator draws the order

    assert drill.ack["code"] == "10000" and drill.ack_seconds < 1.0
    assert world.store.request(drill.session_id) is not None  # recorded before the answer
    assert drill.uploaded_at is None  # the upload is asynchronous
    assert world.uploader.wakeup.is_set() and world.uploader.idle() == 0.0  # the uploader is woken at once

    assert world.uploader.round() == 1
    assert drill.passed, drill.problems
    assert drill.signing_form == "implementations"
    assert world.store.request(drill.session_id).state == "uploaded"  # type: ignore[union-attr]
    assert world.uploader.idle() == 10.0  # nothing pending: it waits to be woken
    events = [e.event for e in world.store.audit_entries(PLATFORM) if e.session_id == drill.session_id]
    assert events == ["requested", "uploaded"]


def test_an_rsa_platform_signing_the_spec_sample_form_passes_too(tmp_path: Path) -> None:
    world = build_world(tmp_path, environ={"CBEC_DATA_OPEN_SIGNING_INPUT": "spec-sample"})
    world.submit(OTHER, payment(OTHER, *[f"{OTHER}-ORDER-{n}" for n in range(1, 6)]))

    drill = world.drill(OTHER)
    world.uploader.round()

    assert drill.passed, drill.problems
    assert drill.signing_form == "spec-sample"


def test_the_upload_carries_only_the_order_customs_asked_for(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1", f"{PLATFORM}-ORDER-2"))

    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-2")
    world.uploader.round()

    assert drill.passed, drill.problems  # the simulator refuses a list with other orders


def test_a_repeated_session_id_is_acknowledged_again_and_uploaded_once(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")
    repeat = world.open_req(PLATFORM, {"openReq": (
        f'{{"orderNo":"{PLATFORM}-ORDER-1","sessionID":"{drill.session_id}","serviceTime":1733530000000}}')})

    assert repeat.status_code == 200 and repeat.json()["code"] == "10000"
    assert world.uploader.round() == 1
    assert world.uploader.round() == 0
    assert world.transport.posts == 1
    assert drill.passed, drill.problems
    events = [e.event for e in world.store.audit_entries(PLATFORM)]
    assert events.count("requested") == 1 and events.count("repeated") == 1


def test_the_upload_is_retried_with_backoff_while_customs_answers_5xx(tmp_path: Path) -> None:
    world = build_world(tmp_path, fail_first=2)
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")

    world.uploader.round()

    assert world.transport.posts == 3
    assert world.sleeps == [0.5, 1.0]  # tenacity: CBEC_DATA_OPEN_BACKOFF, doubling
    assert drill.passed, drill.problems


def test_customs_down_for_a_round_leaves_the_request_pending_then_it_gives_up(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    world = build_world(tmp_path, fail_first=10**6, clock=clock,
                        environ={"CBEC_DATA_OPEN_ATTEMPTS": "2", "CBEC_DATA_OPEN_GIVE_UP_AFTER": "60"})
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")

    world.uploader.round()
    pending = world.store.request(drill.session_id)
    assert pending is not None and pending.state == "pending" and pending.next_at > clock.now()
    assert world.uploader.round() == 0  # not due yet

    clock.advance(seconds=61)
    world.uploader.round()

    assert world.store.request(drill.session_id).state == "failed"  # type: ignore[union-attr]
    assert [e.event for e in world.store.audit_entries(PLATFORM)][-2:] == ["upload-retry", "gave-up"]


def test_payment_data_that_arrives_after_the_request_is_still_uploaded(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    world = build_world(tmp_path, clock=clock)
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-4")

    world.uploader.round()
    assert drill.uploaded_at is None
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-4"))
    clock.advance(seconds=5)
    world.uploader.round()

    assert drill.passed, drill.problems


def test_retention_prunes_requests_data_and_audit_older_than_three_years(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    world = build_world(tmp_path, clock=clock)
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    drill = world.drill(PLATFORM, f"{PLATFORM}-ORDER-1")
    world.uploader.round()
    assert drill.passed

    clock.advance(timedelta(days=3 * 365))  # three years on: still kept
    world.uploader.round()
    assert world.store.request(drill.session_id) is not None
    assert world.store.payment_for(PLATFORM, f"{PLATFORM}-ORDER-1") is not None

    clock.advance(timedelta(days=5))  # beyond CBEC_DATA_OPEN_RETENTION_DAYS (1098)
    world.uploader.round()
    assert world.store.request(drill.session_id) is None
    assert world.store.payment_for(PLATFORM, f"{PLATFORM}-ORDER-1") is None
    assert world.store.audit_entries() == []


def test_retention_is_configurable(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    world = build_world(tmp_path, clock=clock, environ={"CBEC_DATA_OPEN_RETENTION_DAYS": "30"})
    world.submit(PLATFORM, payment(PLATFORM, f"{PLATFORM}-ORDER-1"))
    clock.advance(timedelta(days=31))
    world.uploader.round()
    assert world.store.payment_for(PLATFORM, f"{PLATFORM}-ORDER-1") is None


def test_the_signing_input_is_the_clients_form_of_the_interface() -> None:
    data = PaymentRawData.model_validate(payment(PLATFORM, "O1", amount="88.80000"))
    head = data.head_json()
    assert '"totalAmount":88.8,' in head  # trailing zeros stripped: the signed text is the sent text
    assert '"guid":"' + data.payExchangeInfoHead.guid.upper() + '"' in head
    text = signing_input("implementations", "S1", head, data.lists_json(), 1533271903898)
    assert text == (f'"sessionID":"S1"||"payExchangeInfoHead":"{head}"||'
                    f'"payExchangeInfoLists":"{data.lists_json()}"||"serviceTime":"1533271903898"')
    sample = signing_input("spec-sample", "S1", head, data.lists_json(), 1533271903898)
    assert sample == (f'"sessionID":"S1"||"payExchangeInfoHead":{head}||'
                      f'"payExchangeInfoList":{data.lists_json()}||"serviceTime":1533271903898')


def test_the_order_service_bootstrap_mounts_179_on_its_http_api(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'order.db'}"})
    store = EventStore.open(settings.database.url, schema="order", name="order")
    readmodel = ReadModel.open(f"sqlite:///{tmp_path / 'order-readmodel.db'}", "order")

    service = order.build(settings, tenants(), store, readmodel=readmodel)
    bare = order.build(settings, tenants(), store)  # no HTTP API (the embedded stack): nothing to mount

    client = TestClient(service.http_app)
    answer = client.post(f"/v1/data-open/{PLATFORM}/platDataOpen", data={"openReq": "{}"})
    assert answer.status_code == 400 and answer.json()["code"] == "20000"
    assert client.post("/v1/data-open/payments", json={}).status_code == 401
    assert "data_open" in service.extras and "data_open" not in bare.extras
    assert (tmp_path / "order-data-open.db").exists()
    for close in service.on_close:
        close()


@pytest.mark.parametrize("amount", ["0", "-1", "1.123456", "12345678901234567890"])
def test_an_amount_out_of_range_is_refused(amount: str, tmp_path: Path) -> None:
    world = build_world(tmp_path)
    answer = world.submit(PLATFORM, payment(PLATFORM, "O1", amount=amount))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "$.payExchangeInfoHead.totalAmount"


def test_production_refuses_a_179_platform_without_a_key_or_with_the_test_endpoint(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_ENV": "production"})
    found = problems(settings, tenants(), PlatformKeys({}))
    assert any(PLATFORM in p for p in found) and any(OTHER in p for p in found)
    assert not any(OFF in p for p in found)  # 179 off: no key needed
    assert any("CBEC_DATA_OPEN_UPLOAD_URL" in p for p in found)
    production_url = Settings.from_environ({"CBEC_DATA_OPEN_UPLOAD_URL":
                                            "https://customs.chinaport.gov.cn/ceb2grab/grab/realTimeDataUpload"})
    assert not any("UPLOAD_URL" in p for p in problems(production_url, tenants(), PlatformKeys({})))


def test_179_is_on_only_for_a_tenant_record_with_data_open_true() -> None:
    def record(**extra: object) -> dict[str, object]:
        return {"customsCode": PLATFORM, "name": "p", "roles": ["platform"], "dxpId": "DXP1", **extra}

    assert TenantRegistry.from_json([record(dataOpen=True)]).get(PLATFORM).data_open
    assert not TenantRegistry.from_json([record()]).get(PLATFORM).data_open
    assert not TenantRegistry.from_json([record(dataOpen="true")]).get(PLATFORM).data_open
