"""Dead letters that carry personal data travel sealed with the PII key ring; `cbec dlq show` opens them."""

from __future__ import annotations

import json
from pathlib import Path

from cbec.bus.ports import HandlerFailed
from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec.settings import Settings
from cbec_cli.dlq import show
from cbec_testkit.embedded import EmbeddedStack, embedded_settings
from cbec_testkit.samples import declare_clearance


def test_a_refused_command_with_a_buyers_details_is_sealed_and_the_owners_tool_opens_it(tmp_path: Path) -> None:
    keys = f"k1:{new_key()}"
    settings = embedded_settings(Settings.from_environ({"CBEC_PII_KEYS": keys}))
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", settings=settings)
    order = declare_clearance(1)[0]
    buyer = order.document["OrderHead"]["buyerIdNumber"]
    unreadable = order.to_json().replace(b'"commandId"', b'"commandId": 5, "x"')  # wrong type: dead-lettered
    try:
        stack.bus.publish_record(topics.IN_ORDER, b"k", unreadable, [("trace", b"\xff")])
        stack.bus.publish(topics.IN_ORDER, "k", unreadable)
        for _ in range(10):
            try:
                if not stack.step():
                    break
            except HandlerFailed:
                continue
        values = [m.value for m in stack.bus.messages(topics.dead_letters("order"))]
        assert len(values) == 2
        assert all(buyer.encode() not in v for v in values)  # nothing personal in clear on the topic
        letters = [DeadLetter.from_json(v) for v in values]
        assert all(letter.sealed is not None and letter.sealed[0] == "k1" for letter in letters)
        assert all(letter.command == "" and letter.raw is None for letter in letters)

        opened = [json.loads(line) for line in show(values, AesGcmCipher.from_spec(keys))]
        assert {o["message"]["value"]["text"] for o in opened} == {unreadable.decode()}
        assert [h for o in opened for h in o["message"]["headers"]] == [{"key": "trace", "base64": "/w=="}]
        locked = [json.loads(line) for line in show(values, None)]
        assert all(o["keyId"] == "k1" and "message" not in o for o in locked)
    finally:
        stack.close()
