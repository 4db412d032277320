"""Notifications end to end over HTTP: the saga's status messages pushed to a real callback that is down
and then recovers, pulled meanwhile through the saga's API by their own tenant only, and an operator
who counts and unblocks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.bus.ports import Subscription
from cbec.contracts.status import StatusMessage
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from saga_service.api import make_http_app
from saga_service.notification_store import NotificationStore
from saga_service.notifications import NOTIFICATION_HEADER, Notifier
from saga_service.webhooks import SIGNATURE_HEADER, httpx_post, verify
from saga_story import EBP, SENDERS, Story

PAYMENT = SENDERS["payment"]  # no callback: pulls only


class Callback:
    """The platform's real HTTP endpoint: 503 while ``down``, and every POST it got."""

    def __init__(self) -> None:
        self.down = True
        self.posts: list[tuple[str, str]] = []  # (event id, notification id)
        self.app = FastAPI()

        @self.app.post("/hooks")
        async def hook(request: Request) -> Response:
            body = await request.body()
            if not verify(b"secret-3105960001", body, request.headers.get(SIGNATURE_HEADER, "")):
                return Response(status_code=401)
            self.posts.append((StatusMessage.from_json(body).message_id, request.headers[NOTIFICATION_HEADER]))
            return Response(status_code=503 if self.down else 204)


@pytest.fixture
def callback() -> Iterator[tuple[Callback, str]]:
    endpoint = Callback()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(endpoint.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield endpoint, f"http://127.0.0.1:{port}/hooks"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


class Saga:
    """The story's saga with the notification service and the saga's API in front of it."""

    def __init__(self, url: str = "https://platform.example/hooks") -> None:
        self.story = Story()
        tenants = TenantRegistry.from_json([{**t, "callbackUrl": url} if t["customsCode"] == EBP else t
                                            for t in DEMO_TENANTS])
        self.notes = Notifier(NotificationStore.beside(self.story.store), tenants,
                              lambda code: f"secret-{code}".encode(), post=httpx_post(2.0), clock=self.story.clock,
                              backoff=timedelta(seconds=2), max_backoff=timedelta(minutes=5))
        self.keys: dict[str, str] = {}
        records = []
        for code in {*SENDERS.values()}:
            self.keys[code], record = issue_key(code)
            records.append(record)
        self.keys["operator"], operator = issue_key("ops-alice")
        self.client = TestClient(make_http_app(self.story.saga, ApiKeyRegistry(records), notifier=self.notes,
                                               operators=ApiKeyRegistry([operator])))

    def feed(self) -> None:
        self.story.bus.consumer(Subscription((STATUS_TOPIC,), "notifications"), self.notes.handle).run_once()

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def pull(self, who: str, **params: Any) -> dict[str, Any]:
        response = self.client.get("/v1/notifications", params=params, headers=self.as_(who))
        assert response.status_code == 200, response.text
        return dict(response.json())


def test_a_callback_down_then_up_gets_everything_in_order_while_pull_and_operators_see_the_queue(
        callback: tuple[Callback, str]) -> None:
    endpoint, url = callback
    saga = Saga(url)
    story = saga.story
    story.declare("order")
    story.declare("payment")
    saga.feed()
    saga.notes.poll()
    assert len(endpoint.posts) == 1, "the first failure blocks the platform"
    story.customs("order", 2, 120)
    saga.feed()
    for _ in range(6):  # three minutes of probes
        story.clock.advance(seconds=30)
        saga.notes.poll()
    probes = {notification for _, notification in endpoint.posts}
    assert len(probes) == 1 and 4 <= len(endpoint.posts) <= 7, "one probe, the oldest, retried with backoff"

    pulled = saga.pull(EBP)["items"]  # pull works while push is blocked
    assert [p["message"]["status"] for p in pulled][-2:] == ["declaring at e-port (2)", "customs accepted (120)"]
    assert {p["delivery"]["state"] for p in pulled} == {"queued"}
    assert all(p["correlationId"] == f"{p['correlation']['clearanceKey']}/{p['correlation']['eventId']}"
               for p in pulled)
    assert {p["message"]["tenant"] for p in pulled} == {EBP}
    assert {p["message"]["tenant"] for p in saga.pull(PAYMENT)["items"]} == {PAYMENT}

    assert saga.client.get("/v1/operator/notifications").status_code == 401
    assert saga.client.get("/v1/operator/notifications", headers=saga.as_(EBP)).status_code == 403
    counted = saga.client.get("/v1/operator/notifications", params={"tenant": EBP},
                              headers=saga.as_("operator")).json()["tenants"]
    assert counted[0]["blocked"] and counted[0]["queued"] == len(pulled) and counted[0]["lastError"] == "HTTP 503"

    endpoint.down = False
    unblocked = saga.client.post(f"/v1/operator/notifications/{EBP}/unblock", headers=saga.as_("operator"))
    assert unblocked.json() == {"tenant": EBP, "unblocked": True}
    saga.notes.poll()
    delivered = [notification for _, notification in endpoint.posts[len(endpoint.posts) - len(pulled):]]
    assert delivered == [p["notificationId"] for p in pulled], "drained in order after the unblock"
    assert saga.pull(EBP, pending="true")["items"] == []
    assert saga.client.get("/v1/operator/notifications", params={"tenant": EBP},
                           headers=saga.as_("operator")).json()["tenants"][0]["queued"] == 0


def test_pull_pages_by_cursor_and_no_tenant_reads_or_acknowledges_anothers() -> None:
    saga = Saga()
    saga.story.declare("order")
    saga.story.customs("order", 2, 120)
    saga.story.declare("payment")
    saga.feed()
    everything = saga.pull(EBP, limit=100)["items"]
    assert len(everything) >= 3
    first = saga.pull(EBP, limit=2)
    second = saga.pull(EBP, limit=2, after=first["next"])
    assert [p["notificationId"] for p in first["items"] + second["items"]] == \
        [p["notificationId"] for p in everything[:4]]
    end = saga.pull(EBP, after=everything[-1]["cursor"])
    assert end == {"items": [], "next": everything[-1]["cursor"]}, "nothing new: ask again with the same cursor"

    theirs = saga.pull(PAYMENT)["items"][0]["notificationId"]
    denied = saga.client.post(f"/v1/notifications/{theirs}/acknowledge", headers=saga.as_(EBP))
    assert denied.status_code == 404
    assert saga.client.post(f"/v1/notifications/{theirs}/acknowledge", headers=saga.as_(PAYMENT)).status_code == 204
    pending = [p["notificationId"] for p in saga.pull(PAYMENT, pending="true")["items"]]
    assert theirs not in pending and len(pending) == len(saga.pull(PAYMENT)["items"]) - 1
    assert all(p["message"]["tenant"] == EBP for p in saga.pull(EBP, after=saga.pull(PAYMENT)["next"])["items"]), \
        "a cursor is a position in the caller's own notifications"


def test_a_cursor_the_api_did_not_hand_out_is_a_400_naming_it() -> None:
    saga = Saga()
    response = saga.client.get("/v1/notifications", params={"after": "not-a-cursor"}, headers=saga.as_(EBP))
    assert response.status_code == 400 and response.json()["errors"][0]["path"] == "after"


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_a_limit_out_of_range_is_refused_naming_it(limit: str) -> None:
    saga = Saga()
    response = saga.client.get("/v1/notifications", params={"limit": limit}, headers=saga.as_(EBP))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_pull_needs_a_tenant_key_and_unblock_names_a_known_tenant() -> None:
    saga = Saga()
    assert saga.client.get("/v1/notifications").status_code == 401
    assert saga.client.get("/v1/notifications", headers=saga.as_("operator")).status_code == 401
    missing = saga.client.post("/v1/operator/notifications/4403999999/unblock", headers=saga.as_("operator"))
    assert missing.status_code == 404
