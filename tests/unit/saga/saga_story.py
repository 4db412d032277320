"""A clearance told as a story: the owning services and customs played by a script, the saga for real.

The fake owning service follows the contract of ``cbec.declaration``: orders and payments are
released at intake; waybills, lists, entry lists, cancels and returns are held until the saga
sends ReleaseDocument; a released document is signed and sent at once. Customs answers only when
the story says so.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cbec.bus.in_process import InProcessBus
from cbec.clock import FakeClock
from cbec.contracts import topics
from cbec.contracts.events import (
    DeclarationEvent,
    DocumentHeld,
    DocumentReceived,
    DocumentRefused,
    DocumentReleased,
    DocumentSent,
    DocumentSigned,
    DocumentWithdrawn,
    EventData,
    Links,
    ReceiptRecorded,
    StreamFields,
    stream_fields,
)
from cbec.contracts.saga import SagaCommand
from cbec.contracts.status import StatusMessage
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.declaration.doctypes import ALL, BY_CODE, INVENTORY
from cbec.store.event_store import EventStore
from cbec.store.outbox import OutboxRelay
from inventory_service import domain as inventory_domain
from logistics_service import domain as logistics_domain
from order_service import domain as order_domain
from payment_service import domain as payment_domain
from saga_service.application import SagaApp, route
from saga_service.domain import Policy

EBP = "3105960001"
CONTENT_HASH = "0" * 64
# The story's enterprises by the kind of document they send.
SENDERS = {"order": "3105960001", "payment": "3105960002", "waybill": "3105960003", "inventory": "3105960004",
           "cancel": "3105960004", "return": "3105960004", "entry": "3105960005"}
DOC_TYPES = {**{d.kind: d.code for d in ALL}, "list": INVENTORY.code}
# What the owning services hold at intake for the saga's release: their policies say.
HELD_AT_INTAKE = {p.code for service in (order_domain, payment_domain, logistics_domain, inventory_domain)
                  for p in service.POLICIES if p.held_at_intake}


def sender_of(doc_type: str) -> str:
    return SENDERS[BY_CODE[doc_type].kind]


class Story:
    def __init__(self, *, gate: int = 120, timeout: float = 60.0, max_resends: int = 2,
                 order_no: str = "DEMO00000001", auto_send: bool = True) -> None:
        self.store = EventStore.open("sqlite:///:memory:", schema="saga", name="saga")
        # 14:00 in Beijing: after every returnTime the stories stamp (a later one would be refused)
        self.clock = FakeClock(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))
        self.policy = Policy(gate=gate, receipt_timeout=timedelta(seconds=timeout), max_resends=max_resends)
        self.saga = SagaApp(self.store, policy=self.policy, clock=self.clock)
        self.bus = InProcessBus()
        self.relay = OutboxRelay(self.store, self.bus, name="saga", route=route)
        self.command_topics = topics.feedback_of_kind(topics.FEEDBACK_COMMANDS)
        self.key = f"{EBP}:{order_no}"
        self.auto_send = auto_send
        self.versions: dict[tuple[str, str], int] = {}
        self.receipt_ms = 0
        self.handled_commands = 0
        self.sent: list[tuple[str, str]] = []  # (clearance key, doc type) each time a document is sent

    # -- the owning services ----------------------------------------------------------------------
    def about(self, doc_type: str, key: str | None = None, links: Links | None = None) -> StreamFields:
        """The fields every event of the story's ``doc_type`` document in clearance ``key`` starts with."""
        return stream_fields(doc_type, key or self.key, links or Links())

    def emit(self, payload: EventData, stream_tag: str = "") -> DeclarationEvent:
        """Publish one event of an owning service; the saga reads it as it reads it from Kafka."""
        key = payload.clearance_key
        stream = (payload.doc_type, key + stream_tag)
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        stream_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{payload.doc_type}:{key}{stream_tag}")
        published = DeclarationEvent.of(stream_id, version, payload.TYPE, payload.to_dict())
        event = DeclarationEvent.from_json(published.to_json())  # checked against its schema
        self.saga.observe(event)
        self.pump()
        return event

    def declare(self, what: str, key: str | None = None, *, sender: str | None = None,
                clearance_keys: list[str] | None = None, logistics_nos: list[str] | None = None) -> None:
        doc_type = DOC_TYPES[what]
        key = key or self.key
        business_key = ["3105960003", waybill_no(key)] if what == "waybill" else [key, what]
        links = Links(business_key=business_key, clearance_keys=clearance_keys, logistics_nos=logistics_nos)
        self.emit(DocumentReceived(**self.about(doc_type, key, links), sender=sender or sender_of(doc_type),
                                   command_id=f"declare-{what}", content_hash=CONTENT_HASH))
        if doc_type in HELD_AT_INTAKE:
            self.emit(DocumentHeld(**self.about(doc_type, key, links), waiting_for=["prerequisites"]))
        else:
            self._send(doc_type, key)

    def withdraw(self, what: str, key: str | None = None) -> None:
        """The sender deletes a document customs has not seen (appType 3): its service withdraws it."""
        doc_type = DOC_TYPES[what]
        self.emit(DocumentWithdrawn(**self.about(doc_type, key), command_id=f"withdraw-{what}",
                                    sender=sender_of(doc_type)))

    def _send(self, doc_type: str, key: str) -> None:
        request_id = f"{doc_type}:{key}:{self.versions.get((doc_type, key), 0) + 1}"
        self.emit(DocumentReleased(**self.about(doc_type, key), sender=sender_of(doc_type), request_id=request_id))
        if self.auto_send:
            self.emit(DocumentSigned(**self.about(doc_type, key), request_id=request_id))
            self.emit(DocumentSent(**self.about(doc_type, key), request_id=request_id, file_name="f.xml",
                                   cop_msg_id="M1", sent_at=self.clock.now().isoformat()))
            self.sent.append((key, doc_type))

    def pump(self) -> None:
        """Relay the saga's outbox and let the fake services act on new commands."""
        self.relay.run_once()
        commands = self.issued()
        while self.handled_commands < len(commands):
            command = commands[self.handled_commands]
            self.handled_commands += 1
            if command.command in ("ReleaseDocument", "ResendDocument"):
                self._send(command.doc_type, command.clearance_key)
            elif command.command == "RefuseDocument":
                self.emit(DocumentRefused(**self.about(command.doc_type, command.clearance_key),
                                          errors=[e.to_dict() for e in command.errors], refuses_document=True))
            commands = self.issued()

    # -- customs ------------------------------------------------------------------------------------
    def customs(self, what: str, *codes: int, key: str | None = None, info: str = "",
                time: str | None = None) -> None:
        doc_type = DOC_TYPES[what]
        for code in codes:
            self.receipt_ms += 1
            self.emit(ReceiptRecorded(**self.about(doc_type, key), receipt_id=f"r{self.receipt_ms}",
                                      receipt_type=doc_type[:-1] + str(int(doc_type[-1]) + 1), return_status=code,
                                      return_time=time or f"20260101120000{self.receipt_ms:03d}",
                                      return_info=info or str(code)))

    def customs_accepts(self, *whats: str, key: str | None = None) -> None:
        for what in whats:
            self.customs(what, 2, 120, key=key)

    def goods_left(self, key: str | None = None) -> None:
        self.saga.goods_left(key or self.key)
        self.pump()

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        self.saga.tick()
        self.pump()

    # -- what we look at -------------------------------------------------------------------------
    def status_of(self, what: str, key: str | None = None) -> str:
        kind = "inventory" if what == "list" else what
        view = self.saga.view(key or self.key)
        return str(view["documents"].get(kind, {}).get("status", "not declared"))

    def held_for(self, what: str, key: str | None = None) -> str:
        """What a held document waits for, as the saga says it (``not held: <status>`` otherwise)."""
        kind = "inventory" if what == "list" else what
        view = self.saga.view(key or self.key)["documents"].get(kind, {})
        status = str(view.get("status", "not declared"))
        return str(view["reason"]) if status == "held" else f"not held: {status}"

    def issued(self) -> list[SagaCommand]:
        """Every command the saga issued, once (a lock goes to three services), in the order issued."""
        found = [m for topic in self.command_topics for m in self.bus.messages(topic)]
        found.sort(key=lambda m: int(m.headers["cbec-notification-id"]))
        once = {SagaCommand.from_json(m.value): None for m in found}
        return list(once)

    def commands(self, command: str | None = None, what: str | None = None) -> list[SagaCommand]:
        return [c for c in self.issued() if (command is None or c.command == command)
                and (what is None or c.doc_type == DOC_TYPES[what])]

    def status_messages(self) -> list[StatusMessage]:
        return [StatusMessage.from_json(m.value) for m in self.bus.messages(STATUS_TOPIC)]

    def released(self, what: str, key: str | None = None) -> bool:
        return any(c.clearance_key == (key or self.key) for c in self.commands("ReleaseDocument", what))


def waybill_no(clearance_key: str) -> str:
    return "LN" + clearance_key.split(":", 1)[1]


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1)
