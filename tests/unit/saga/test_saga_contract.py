"""What the saga publishes follows the public JSON schemas of cbec.out.status and the saga commands
(cbec.feedback.<service>.saga-commands)."""

from __future__ import annotations

import json

from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.contracts.dead_letter import WebhookDeadLetter
from cbec.contracts.saga import SagaCommand
from cbec.contracts.schema_check import errors_of
from cbec.contracts.status import CLEARANCE_ALERT, STATUS_CHANGED, StatusMessage
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.tenants import TenantRegistry
from cbec_testkit.tenants import DEMO_TENANTS
from saga_service.webhooks import WebhookNotifier
from saga_service.webhooks import route as webhook_route
from saga_story import Story


def _full_story() -> Story:
    story = Story()
    for what in ("list", "waybill", "payment", "order"):
        story.declare(what)
    story.customs_accepts("order", "payment", "waybill")
    story.customs("list", 2, 120, 399, 800)
    story.declare("return")  # refused: the goods have not left
    return story


def test_every_status_change_matches_the_status_schema() -> None:
    story = _full_story()
    messages = [json.loads(m.value) for m in story.bus.messages(STATUS_TOPIC)]
    plain = [m for m in messages if "errors" not in m and "reason" not in m and "type" not in m]
    assert len(plain) > 20
    for message in plain:
        assert errors_of("status/status-change.json", message) == [], message


def test_every_saga_command_matches_the_saga_command_schema() -> None:
    story = _full_story()
    commands = [c.to_dict() for c in story.issued()]
    assert {c["command"] for c in commands} == {"ReleaseDocument", "RefuseDocument", "LockClearance"}
    for command in commands:
        assert errors_of("saga/saga-command.json", command) == [], command


# -- what the saga publishes --------------------------------------------------------------------------------
def test_everything_the_saga_publishes_validates_and_is_read_back() -> None:
    story = Story(timeout=10, max_resends=1)
    for what in ("list", "waybill", "payment", "order"):
        story.declare(what)
    story.customs_accepts("order", "payment", "waybill")
    story.customs("list", 2, 120, 399, 800)
    story.declare("return")  # refused: the goods have not left
    story.declare("cancel")
    story.goods_left()
    story.later(30)
    story.later(30)  # the cancel was never answered: resent, then an alert
    statuses = story.bus.messages(topics.STATUS)
    assert {json.loads(m.value).get("type", STATUS_CHANGED) for m in statuses} == {STATUS_CHANGED, CLEARANCE_ALERT}
    for message in statuses:
        assert errors_of("status/status-change.json", json.loads(message.value)) == []
        assert StatusMessage.from_json(message.value).to_json() == message.value
    commands = [m for topic in topics.feedback_of_kind(topics.FEEDBACK_COMMANDS) for m in story.bus.messages(topic)]
    assert {json.loads(m.value)["command"] for m in commands} == {"ReleaseDocument", "ResendDocument",
                                                                  "RefuseDocument", "LockClearance"}
    for message in commands:
        assert errors_of("saga/saga-command.json", json.loads(message.value)) == []
        assert SagaCommand.from_json(message.value).to_json() == message.value

    tenants = TenantRegistry.from_json([{**t, "callbackUrl": "https://p.example/cb"} for t in DEMO_TENANTS])
    notifier = WebhookNotifier(story.store, tenants, lambda code: b"s", post=lambda url, body, headers: 503,
                               clock=story.clock, max_attempts=1)
    story.bus.consumer(Subscription((topics.STATUS,), "webhooks"), notifier.handle).run_once()
    notifier.poll()
    letters = [m for e in story.store.notifications(1, 10_000) for m in webhook_route(e)]
    assert len(letters) == len(statuses)
    for topic, key, value in letters:
        assert topic == topics.WEBHOOK_DEAD_LETTERS
        assert errors_of("events/webhook-dead-letter.json", json.loads(value)) == []
        assert WebhookDeadLetter.from_json(value).key == key


def test_the_saga_matches_only_event_types_the_services_publish() -> None:
    """No phantom names: every declaration event the saga's code names, as a payload class it dispatches
    on (``isinstance``, or ``issubclass`` of the type's class where folding builds no payload), a string
    literal or a lifecycle constant, is one the services emit; and it
    dispatches on the payload classes, not on names."""
    import ast
    import re
    from pathlib import Path

    import cbec.contracts.events as events
    import cbec.declaration.lifecycle as lc
    import saga_service

    published = set(events.EVENT_DATA.values())
    sources = [p.read_text("utf-8") for p in Path(saga_service.__file__).parent.glob("*.py")]
    source = "\n".join(sources)
    dispatched: set[str] = set()
    for tree in map(ast.parse, sources):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("isinstance", "issubclass"):
                target = node.args[1]
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                dispatched |= {n.id for n in names if isinstance(n, ast.Name)}
    named_classes = {n for n in dispatched | set(re.findall(r"\b((?:Document|Receipt)[A-Z]\w+)\b", source))
                     if isinstance(getattr(events, n, None), type)}
    assert {getattr(events, n) for n in named_classes} <= published
    assert {n for n in dispatched if n.startswith(("Document", "Receipt"))} <= named_classes  # no phantom class
    literals = set(re.findall(r"""["']((?:Document|Receipt)[A-Z]\w+)["']""", source))
    constants = {getattr(lc, name) for name in re.findall(r"\blc\.([A-Z_]+)\b", source)}
    assert literals | {c for c in constants if isinstance(c, str)} <= set(events.EVENT_TYPES)
    # The saga folds what each published type means by its class: every type but none other.
    # (The export summary's result is folded by the export saga, issue 15 item 2: not yet on this branch.)
    assert {getattr(events, n) for n in dispatched if n in named_classes} == published - {events.SummaryResultRecorded}
