"""The clearance view is for the clearance's parties: an API key is required, and any other tenant
is told the clearance does not exist."""

from __future__ import annotations

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from fastapi.testclient import TestClient
from saga_service.api import make_http_app
from saga_story import EBP, SENDERS, Story

OUTSIDER = "4403999999"


def _client(story: Story) -> tuple[TestClient, dict[str, str]]:
    keys: dict[str, str] = {}
    records = []
    for code in {*SENDERS.values(), OUTSIDER}:
        keys[code], record = issue_key(code)
        records.append(record)
    return TestClient(make_http_app(story.saga, ApiKeyRegistry(records))), keys


def _rejected_order_story() -> Story:
    story = Story()
    story.declare("order")
    story.declare("payment")
    story.customs("order", 100, info="订购人身份证号 110101199003074518 与姓名不符")
    return story


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "cbec_nope_nope"}, {"Authorization": "Bearer wrong"}])
def test_the_clearance_view_needs_an_api_key(headers: dict[str, str]) -> None:
    story = _rejected_order_story()
    client, _ = _client(story)
    response = client.get(f"/v1/clearances/{story.key}", headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "CBEC-0401"


def test_the_platform_sees_its_clearance_whole() -> None:
    story = _rejected_order_story()
    client, keys = _client(story)
    view = client.get(f"/v1/clearances/{story.key}", headers={"X-Api-Key": keys[EBP]}).json()
    assert view["documents"]["order"]["statusCode"] == 100
    assert "110101199003074518" in view["documents"]["order"]["receipts"][0]["returnInfo"]


def test_another_party_sees_the_clearance_with_other_senders_texts_masked() -> None:
    story = _rejected_order_story()
    client, keys = _client(story)
    bearer = {"Authorization": f"Bearer {keys[SENDERS['payment']]}"}
    response = client.get(f"/v1/clearances/{story.key}", headers=bearer)
    assert response.status_code == 200
    order = response.json()["documents"]["order"]
    assert order["statusCode"] == 100
    assert "110101199003074518" not in order["receipts"][0]["returnInfo"]
    assert "110101199003074518" not in order["reason"]


def test_a_tenant_that_is_no_party_gets_404_as_for_a_missing_clearance() -> None:
    story = _rejected_order_story()
    client, keys = _client(story)
    for code in (OUTSIDER, SENDERS["inventory"]):  # the list's sender has sent nothing in this clearance yet
        response = client.get(f"/v1/clearances/{story.key}", headers={"X-Api-Key": keys[code]})
        assert response.status_code == 404, code
    missing = client.get(f"/v1/clearances/{EBP}:NOSUCHORDER", headers={"X-Api-Key": keys[EBP]})
    assert missing.status_code == 404
    assert response.json() == missing.json()


def test_health_stays_open() -> None:
    client, _ = _client(Story())
    assert client.get("/health").json() == {"status": "ok"}
