"""An export clearance told as a story: the owning services and customs played by a script, the saga for real.

Export documents are named by what they are (``order`` is the CEB303, ``list`` the CEB603 …). As the
export contract says, the order and the 收款单 go to customs at once; every other export document is held
at intake until the saga releases it. Documents spanning many clearances (arrival, departure,
master-bill, summary, tally) are declared under their own key (the owning service's ``code:copNo``),
naming their member clearances; the saga folds each into an instance of its own kind (:meth:`group`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from cbec.contracts.events import (
    DeclarationEvent,
    DocumentHeld,
    DocumentReceived,
    DocumentReleased,
    DocumentSent,
    DocumentSigned,
    EventData,
    Links,
    ReceiptRecorded,
    SummaryResultRecorded,
    stream_fields,
)
from cbec.contracts.saga import SagaCommand
from cbec.declaration.doctypes import EXPORT_BY_CODE
from saga_service.application import stream_of
from saga_service.domain import Policy
from saga_service.export_rules import ExportPolicy, instance_key
from saga_story import CONTENT_HASH, Story

EBC = "3305960011"
EXPORT_TYPES = {"order": "CEB303", "collection": "CEB403", "waybill": "CEB505", "list": "CEB603",
                "cancel": "CEB605", "return": "CEB213", "arrival": "CEB507", "departure": "CEB509",
                "master-bill": "CEB607", "summary": "CEB701", "tally": "CEB215"}
KIND = {what: EXPORT_BY_CODE[code].kind for what, code in EXPORT_TYPES.items()}
SENDERS = {"CEB303": EBC, "CEB403": EBC, "CEB505": "3305960013", "CEB603": "3305960014", "CEB605": "3305960014",
           "CEB213": "3305960014", "CEB507": "3305960015", "CEB509": "3305960013", "CEB607": "3305960014",
           "CEB701": "3305960014", "CEB215": "3305960015"}
SENT_AT_ONCE = {"CEB303", "CEB403"}  # the export contract: everything else is held at intake (as the policies say)
ORDER_TYPE = {"9610": "E", "9710": "B", "9810": "W"}


def export_key(order_no: str) -> str:
    return f"E:{EBC}:{order_no}"


class ExportStory(Story):
    def __init__(self, *, collection_for: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = Policy(gate=self.policy.gate, receipt_timeout=self.policy.receipt_timeout,
                             max_resends=self.policy.max_resends, export=ExportPolicy(collection_for))
        self.saga.policy = self.policy
        self.key = export_key("EX0001")
        self.receipt_day = 1

    def emit(self, payload: EventData, stream_tag: str = "") -> DeclarationEvent:
        key = payload.clearance_key
        stream = (payload.doc_type, key + stream_tag)
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        stream_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{payload.doc_type}:{key}{stream_tag}")
        published = DeclarationEvent.of(stream_id, version, payload.TYPE, payload.to_dict())
        event = DeclarationEvent.from_json(published.to_json())  # checked against its schema
        self.last_event = event
        self.saga.observe(event)
        self.pump()
        return event

    def declare(self, what: str, key: str | None = None, *, sender: str | None = None,  # type: ignore[override]
                clearance_keys: list[str] | None = None, logistics_nos: list[str] | None = None,
                trade_mode: str = "", strategy: str = "") -> None:
        doc_type = EXPORT_TYPES[what]
        key = key or self.key
        links = Links(business_key=[key, what], clearance_keys=clearance_keys, logistics_nos=logistics_nos)
        self.emit(DocumentReceived(**stream_fields(doc_type, key, links), sender=sender or SENDERS[doc_type],
                                   command_id=f"declare-{what}", content_hash=CONTENT_HASH,
                                   order_type=ORDER_TYPE[trade_mode] if trade_mode and what == "order" else None,
                                   trade_mode=trade_mode if trade_mode and what == "list" else None,
                                   strategy=strategy or None))
        if doc_type in SENT_AT_ONCE:
            self._send(doc_type, key)
        else:
            self.emit(DocumentHeld(**stream_fields(doc_type, key, links), waiting_for=["prerequisites"]))

    def _send(self, doc_type: str, key: str) -> None:
        request_id = f"{doc_type}:{key}:{self.versions.get((doc_type, key), 0) + 1}"
        about = stream_fields(doc_type, key, Links())
        self.emit(DocumentReleased(**about, sender=SENDERS[doc_type], request_id=request_id))
        if self.auto_send:
            self.emit(DocumentSigned(**about, request_id=request_id))
            self.emit(DocumentSent(**about, request_id=request_id, file_name="f.xml", cop_msg_id="M1",
                                   sent_at=self.clock.now().isoformat()))
            self.sent.append((key, doc_type))

    def customs(self, what: str, *codes: int, key: str | None = None, info: str = "",  # type: ignore[override]
                time: str | None = None) -> None:
        doc_type = EXPORT_TYPES[what]
        for code in codes:
            self.receipt_ms += 1
            self.emit(ReceiptRecorded(**stream_fields(doc_type, key or self.key, Links()),
                                      receipt_id=f"r{self.receipt_ms}",
                                      receipt_type=EXPORT_BY_CODE[doc_type].receipt_code,
                                      return_status=code, return_info=info or str(code),
                                      return_time=time or f"20251201120000{self.receipt_ms:03d}"))

    def customs_accepts(self, *whats: str, key: str | None = None) -> None:
        for what in whats:
            self.customs(what, 2, 399 if what in ("waybill", "arrival", "departure", "tally") else 120, key=key)

    def customs_releases(self, key: str | None = None) -> None:
        self.customs("list", 2, 120, 800, key=key)

    def summary_result(self, key: str, sum_no: str = "SUM0001", dec_state: str = "A") -> None:
        """Customs' CEB792, as the summary owner records it on the CEB701's stream."""
        self.emit(SummaryResultRecorded(**stream_fields("CEB701", key, Links()), result_id=f"result-{sum_no}",
                                        sum_no=sum_no, dec_state=dec_state, op_date="20251231120000000",
                                        invt_nos=["51652025E000000001"], entry_id="516520251000000001"))

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        self.saga.tick()
        self.pump()

    def later_days(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    # -- what we look at -------------------------------------------------------------------------
    def group(self, what: str, key: str) -> str:
        """The saga instance of the ``what`` document declared under ``key`` (a group's own, by kind)."""
        return instance_key(KIND[what], key)

    def _instance(self, what: str, key: str | None) -> str:
        return self.group(what, key or self.key)

    def status_of(self, what: str, key: str | None = None) -> str:
        view = self.saga.view(self._instance(what, key))
        return str(view["documents"].get(KIND[what], {}).get("status", "not declared"))

    def held_for(self, what: str, key: str | None = None) -> str:
        view = self.saga.view(self._instance(what, key))["documents"].get(KIND[what], {})
        status = str(view.get("status", "not declared"))
        return str(view["reason"]) if status == "held" else f"not held: {status}"

    def saga_stream(self, key: str) -> uuid.UUID:
        return stream_of(key)

    def export_view(self, key: str | None = None) -> dict[str, Any]:
        return dict(self.saga.view(key or self.key)["export"])

    def commands(self, command: str | None = None, what: str | None = None) -> list[SagaCommand]:
        return [c for c in self.issued() if (command is None or c.command == command)
                and (what is None or c.doc_type == EXPORT_TYPES[what])]

    def released(self, what: str, key: str | None = None) -> bool:
        return any(c.clearance_key == self._instance(what, key) for c in self.commands("ReleaseDocument", what))

    def refusal(self, what: str, key: str | None = None) -> dict[str, str]:
        found = [c for c in self.commands("RefuseDocument", what) if c.clearance_key == self._instance(what, key)]
        assert len(found) == 1, found
        return found[0].errors[0].to_dict()

    def sent_order(self, key: str | None = None) -> list[str]:
        """The kinds of the story's documents in the order they went to customs."""
        names = {code: what for what, code in EXPORT_TYPES.items()}
        return [names[doc_type] for k, doc_type in self.sent if k == (key or self.key)]
