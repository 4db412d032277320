"""Status changes reach the tenant's callback URL signed, retried with backoff, dead-lettered, replayable."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import uvicorn
from cbec.bus.ports import Subscription
from cbec.contracts.events import DocumentReceived
from cbec.contracts.status import StatusMessage
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from fastapi import FastAPI, Request, Response
from saga_service.application import status_messages
from saga_service.webhooks import SIGNATURE_HEADER, WebhookNotifier, httpx_post, verify
from saga_story import CONTENT_HASH, Story

URL = "https://platform.example/cbec/status"


class Receiver:
    """A tenant endpoint that fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.calls.append((url, body, headers))
        return 503 if len(self.calls) <= self.failures else 204


def _notifier(story: Story, receiver: Receiver, max_attempts: int = 4) -> WebhookNotifier:
    tenants = TenantRegistry.from_json([{**t, "callbackUrl": URL} if t["customsCode"] == "3105960001" else t
                                        for t in DEMO_TENANTS])
    return WebhookNotifier(story.store, tenants, lambda code: f"secret-{code}".encode(), post=receiver,
                           clock=story.clock, max_attempts=max_attempts, backoff=timedelta(seconds=2))


def _feed(story: Story, notifier: WebhookNotifier) -> None:
    story.bus.consumer(Subscription((STATUS_TOPIC,), "webhooks"), notifier.handle).run_once()


def test_each_status_change_of_a_tenant_with_a_callback_is_posted_signed() -> None:
    story, receiver = Story(), Receiver()
    notifier = _notifier(story, receiver)
    story.declare("order")
    story.declare("payment")  # the payment company has no callback URL
    story.customs("order", 2, 120)
    _feed(story, notifier)
    notifier.poll()
    statuses = [StatusMessage.from_json(body).status for _, body, _ in receiver.calls]
    assert statuses[-2:] == ["declaring at e-port (2)", "customs accepted (120)"]
    assert all(StatusMessage.from_json(body).tenant == "3105960001" for _, body, _ in receiver.calls)
    for _, body, headers in receiver.calls:
        assert verify(b"secret-3105960001", body, headers[SIGNATURE_HEADER])
        assert not verify(b"another-secret", body, headers[SIGNATURE_HEADER])
    assert notifier.poll() == 0


def test_a_failing_callback_is_retried_with_growing_backoff() -> None:
    story, receiver = Story(), Receiver(failures=2)
    notifier = _notifier(story, receiver)
    story.emit(DocumentReceived(**story.about("CEB311"), sender="3105960001", command_id="c1",
                                content_hash=CONTENT_HASH))
    _feed(story, notifier)
    assert notifier.poll() == 1
    assert notifier.poll() == 0
    story.clock.advance(seconds=2)
    assert notifier.poll() == 1  # second attempt after 2 s
    story.clock.advance(seconds=3)
    assert notifier.poll() == 0  # third waits 4 s
    story.clock.advance(seconds=1)
    assert notifier.poll() == 1
    assert len(receiver.calls) == 3 and notifier.pending == {}
    assert notifier.dead_letters() == []


def test_after_n_failures_a_delivery_is_dead_lettered_and_can_be_replayed() -> None:
    story, receiver = Story(), Receiver(failures=100)
    notifier = _notifier(story, receiver, max_attempts=3)
    story.emit(DocumentReceived(**story.about("CEB311"), sender="3105960001", command_id="c1",
                                content_hash=CONTENT_HASH))
    _feed(story, notifier)
    for _ in range(10):
        notifier.poll()
        story.clock.advance(seconds=60)
    assert len(receiver.calls) == 3
    [dead] = notifier.dead_letters()
    assert dead["tenant"] == "3105960001" and dead["attempts"] == 3
    receiver.failures = 0
    queued = notifier.replay([m for _, m in status_messages(story.store, tenant="3105960001")])
    assert queued == 1
    notifier.poll()
    assert len(receiver.calls) == 4
    assert receiver.calls[-1][2]["X-Cbec-Message-Id"] == receiver.calls[0][2]["X-Cbec-Message-Id"]


def test_pending_deliveries_survive_a_restart() -> None:
    story, receiver = Story(), Receiver(failures=1)
    notifier = _notifier(story, receiver)
    story.emit(DocumentReceived(**story.about("CEB311"), sender="3105960001", command_id="c1",
                                content_hash=CONTENT_HASH))
    _feed(story, notifier)
    notifier.poll()
    restarted = _notifier(story, receiver)
    assert len(restarted.pending) == 1
    assert restarted.poll() == 0, "the backoff is kept across the restart"
    story.clock.advance(seconds=2)
    restarted.poll()
    assert len(receiver.calls) == 2 and restarted.pending == {}


def test_deliveries_reach_a_real_http_endpoint_that_checks_the_signature() -> None:
    from fastapi import Response

    received: list[str] = []
    endpoint = FastAPI()

    @endpoint.post("/hooks")
    async def hook(request: Request) -> Response:
        body = await request.body()
        if not verify(b"secret-3105960001", body, request.headers.get(SIGNATURE_HEADER, "")):
            return Response(status_code=401)
        received.append(StatusMessage.from_json(body).status)
        return Response(status_code=204)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(endpoint, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        story = Story()
        tenants = TenantRegistry.from_json([{**t, "callbackUrl": f"http://127.0.0.1:{port}/hooks"}
                                            if t["customsCode"] == "3105960001" else t for t in DEMO_TENANTS])
        notifier = WebhookNotifier(story.store, tenants, lambda code: f"secret-{code}".encode(),
                                   post=httpx_post(2.0), clock=story.clock)
        story.declare("order")
        story.customs("order", 2, 120)
        _feed(story, notifier)
        notifier.poll()
        assert received[-1] == "customs accepted (120)" and notifier.pending == {}
    finally:
        server.should_exit = True
        thread.join(timeout=5)
