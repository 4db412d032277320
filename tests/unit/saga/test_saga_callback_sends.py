"""At send time the saga resolves the callback host again, checks every address and connects to the
checked one (keeping the host name for Host and TLS); a refused destination is dead-lettered at once."""

from __future__ import annotations

from datetime import timedelta

from cbec.bus.ports import Subscription
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.net.callbacks import CallbackGuard
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from saga_service.webhooks import WebhookNotifier, guarded_post
from saga_story import Story

URL = "https://platform.example/cbec/status"


class RebindingDns:
    """A name server that answers a public address first and a private one after (DNS rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Wire:
    """What the transport was asked to connect to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str], str]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], server_name: str) -> int:
        self.sent.append((url, headers, server_name))
        return 204


def test_the_request_goes_to_the_checked_address_with_the_host_name_kept() -> None:
    dns, wire = RebindingDns(["8.8.8.8"], ["127.0.0.1"]), Wire()
    post = guarded_post(CallbackGuard(production=True, resolver=dns), send=wire)
    assert post(URL, b"{}", {"X-Cbec-Signature": "sha256=x"}) == 204
    [(url, headers, server_name)] = wire.sent
    assert url == "https://8.8.8.8:443/cbec/status"
    assert headers["Host"] == "platform.example" and headers["X-Cbec-Signature"] == "sha256=x"
    assert server_name == "platform.example"
    assert dns.asked == 1  # resolved once: nothing can re-resolve between the check and the connection


def _notifier(story: Story, post: object, max_attempts: int = 4) -> WebhookNotifier:
    tenants = TenantRegistry.from_json([{**t, "callbackUrl": URL} if t["customsCode"] == "3105960001" else t
                                        for t in DEMO_TENANTS])
    return WebhookNotifier(story.store, tenants, lambda code: f"secret-{code}".encode(), post=post,  # type: ignore[arg-type]
                           clock=story.clock, max_attempts=max_attempts, backoff=timedelta(seconds=2))


def test_a_name_rebound_to_a_private_address_is_refused_and_dead_lettered_at_once() -> None:
    story, wire = Story(), Wire()
    dns = RebindingDns(["8.8.8.8"], ["10.0.0.5"])
    notifier = _notifier(story, guarded_post(CallbackGuard(production=True, resolver=dns), send=wire))
    story.declare("order")
    story.customs("order", 2)
    story.bus.consumer(Subscription((STATUS_TOPIC,), "webhooks"), notifier.handle).run_once()
    notifier.poll()
    # The first delivery went to the first answer; every later one found the name moved to 10.0.0.5.
    assert [u for u, _, _ in wire.sent] == ["https://8.8.8.8:443/cbec/status"]
    letters = notifier.dead_letters()
    assert letters and notifier.pending == {}
    assert all(letter["attempts"] == 1 and "10.0.0.5 is a private address" in str(letter["error"])
               for letter in letters)


def test_a_callback_to_the_loopback_never_leaves_the_process() -> None:
    story, wire = Story(), Wire()
    dns = RebindingDns(["127.0.0.1"])
    notifier = _notifier(story, guarded_post(CallbackGuard(production=False, resolver=dns), send=wire))
    story.declare("order")
    story.bus.consumer(Subscription((STATUS_TOPIC,), "webhooks"), notifier.handle).run_once()
    notifier.poll()
    assert wire.sent == []
    assert "loopback" in str(notifier.dead_letters()[0]["error"])
