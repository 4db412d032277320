"""What the saga publishes follows the public JSON schemas of cbec.out.status and cbec.saga.commands."""

from __future__ import annotations

import json

from cbec.contracts.schema_check import errors_of
from cbec.contracts.status import SAGA_COMMANDS_TOPIC, STATUS_TOPIC
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
    commands = [json.loads(m.value) for m in story.bus.messages(SAGA_COMMANDS_TOPIC)]
    assert {c["command"] for c in commands} == {"ReleaseDocument", "RefuseDocument", "LockClearance"}
    for command in commands:
        assert errors_of("saga/saga-command.json", command) == [], command
