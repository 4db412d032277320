"""The public events of the declaration services on ``cbec.<service>.events`` (envelope ``cbec.event/1``).

Each stored declaration event leaves its service as one :class:`DeclarationEvent`: the envelope
names the stream, its version, the document type and the clearance (also the Kafka key); ``data``
is the event's payload without what stays inside the service (the document, the rendered XML,
the stream's links). Schemas: ``schemas/events/envelope.json`` and one per event type.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, TypedDict

from cbec.contracts.base import ContractError, JsonMessage, check_schema, finding, text

SCHEMA = "cbec.event/1"

# The event types a declaration service publishes (past tense), one schema each.
RECEIVED = "DocumentReceived"
REFUSED = "DocumentRefused"
HELD = "DocumentHeld"
RELEASED = "DocumentReleased"
SIGNED = "DocumentSigned"
SIGNING_FAILED = "DocumentSigningFailed"
SENT = "DocumentSent"
RECEIPT_RECORDED = "ReceiptRecorded"
WITHDRAWN = "DocumentWithdrawn"  # deleted (appType 3) before customs ever saw it: nothing is sent
SUMMARY_RESULT_RECORDED = "SummaryResultRecorded"  # customs' CEB792 汇总结果单, on its summary's (CEB701) stream
TAX_BILL_RECORDED = "TaxBillRecorded"  # customs' CEB816 电子税单, on its import list's (CEB621) stream
TAX_STATUS_RECORDED = "TaxStatusRecorded"  # customs' CEB818 电子税单状态, on the same list's stream
EVENT_TYPES = (RECEIVED, REFUSED, HELD, RELEASED, SIGNED, SIGNING_FAILED, SENT, RECEIPT_RECORDED, WITHDRAWN,
               SUMMARY_RESULT_RECORDED, TAX_BILL_RECORDED, TAX_STATUS_RECORDED)
TAX_STATUSES = {"1": "generated", "2": "summarised", "3": "void"}
"""A tax bill's ``status`` (TaxHeadRd/TaxHeadStatus): 1 已生成, 2 已汇总 (into a payment notice, 缴款书), 3 作废."""

PRIVATE_FIELDS = frozenset({"document", "xml", "links"})
"""Payload fields that never leave the service: the document (personal data) and the rendered XML."""


@cache
def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """Where a document's stream belongs besides its clearance: every event of the stream carries these
    fields, and its DocumentReceived keeps them (privately) as ``links``."""

    business_key: list[str] | None = None  # the document's key fields
    clearance_keys: list[str] | None = None  # documents spanning clearances (CEB711, CEB507/509/607/701/215)
    logistics_nos: list[str] | None = None  # the waybills it lists

    def to_dict(self) -> dict[str, Any]:
        out = {_json_name(f.name): getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Links:
        return cls(business_key=data.get("businessKey"), clearance_keys=data.get("clearanceKeys"),
                   logistics_nos=data.get("logisticsNos"))


class StreamFields(TypedDict):
    """The fields every event of a document's stream starts with (``EventType(**stream_fields(...), ...)``)."""

    doc_type: str
    clearance_key: str
    business_key: list[str] | None
    clearance_keys: list[str] | None
    logistics_nos: list[str] | None


def stream_fields(doc_type: str, clearance_key: str, links: Links) -> StreamFields:
    """The document type, the clearance and the links an event of the stream names."""
    return StreamFields(doc_type=doc_type, clearance_key=clearance_key, business_key=links.business_key,
                        clearance_keys=links.clearance_keys, logistics_nos=links.logistics_nos)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventData:
    """The payload fields every declaration event carries; ``None`` fields are left out of the JSON.

    ``extra`` keeps the fields a later compatible version adds (consumers ignore what they do not know).
    """

    TYPE: ClassVar[str] = ""

    doc_type: str
    clearance_key: str = ""
    business_key: list[str] | None = None  # the document's key fields
    clearance_keys: list[str] | None = None  # documents spanning clearances: the clearances it names
    logistics_nos: list[str] | None = None  # the waybills it lists
    app_type: str | None = None  # 1 new, 2 change, 3 delete
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stored (and, without :data:`PRIVATE_FIELDS`, the published) JSON object."""
        out = {_json_name(f.name): getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**{k: v for k, v in out.items() if v is not None}, **self.extra}

    @property
    def stream_links(self) -> Links:
        """The stream's links this event names."""
        return Links(business_key=self.business_key, clearance_keys=self.clearance_keys,
                     logistics_nos=self.logistics_nos)

    @classmethod
    def required(cls) -> frozenset[str]:
        """The JSON names of the fields every payload of this type carries."""
        return frozenset(_json_name(f.name) for f in fields(cls)
                         if f.default is MISSING and f.default_factory is MISSING)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        """The payload of an event already checked against its schema (see :meth:`DeclarationEvent.from_dict`)."""
        known = {_json_name(f.name): f.name for f in fields(cls) if f.name != "extra"}
        try:
            return cls(**{known[k]: v for k, v in data.items() if k in known},
                       extra={k: v for k, v in data.items() if k not in known})
        except TypeError as exc:
            raise ContractError([finding("data", f"{cls.TYPE or 'event'} data is incomplete: {exc}")]) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentReceived(EventData):
    """The document passed intake validation and is stored."""

    TYPE: ClassVar[str] = RECEIVED
    sender: str
    command_id: str
    content_hash: str
    trade_mode: str | None = None  # export: the list's tradeMode (the saga orders the clearance by it)
    order_type: str | None = None  # export: the order's orderType (E B2C, B B2B, W overseas-warehouse booking)
    # Stored, never published (PRIVATE_FIELDS): the stream's links and the document as completed at intake.
    links: dict[str, Any] | None = None
    document: dict[str, Any] | None = None

    strategy: str | None = None  # export, published: the strategy it was declared under (9710报关单 …)


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRefused(EventData):
    """A command was refused at intake, or the saga refused the document (``refuses_document``)."""

    TYPE: ClassVar[str] = REFUSED
    errors: list[dict[str, str]]
    sender: str | None = None
    command_id: str | None = None
    error_count: int | None = None  # every finding, when more were found than ``errors`` holds
    refuses_document: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentHeld(EventData):
    """The document waits for prerequisite documents (by kind)."""

    TYPE: ClassVar[str] = HELD
    waiting_for: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentReleased(EventData):
    """The document was released for signing (its sign request is published beside it)."""

    TYPE: ClassVar[str] = RELEASED
    sender: str
    request_id: str
    xml: str | None = None  # stored, never published: the rendered document, base64 (the sign request's)


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSigned(EventData):
    TYPE: ClassVar[str] = SIGNED
    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSigningFailed(EventData):
    TYPE: ClassVar[str] = SIGNING_FAILED
    request_id: str
    error: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSent(EventData):
    """The signed document left for customs."""

    TYPE: ClassVar[str] = SENT
    request_id: str
    file_name: str
    cop_msg_id: str
    sent_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptRecorded(EventData):
    """A customs receipt for the document was recorded (duplicates are not repeated)."""

    TYPE: ClassVar[str] = RECEIPT_RECORDED
    receipt_id: str
    receipt_type: str
    return_status: int
    return_time: str
    return_info: str
    numbers: dict[str, str] | None = None  # numbers customs assigned in it (an export list's invtNo, a sumNo)


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentWithdrawn(EventData):
    """The document was deleted (appType 3) before customs saw it; nothing is sent."""

    TYPE: ClassVar[str] = WITHDRAWN
    command_id: str
    sender: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryResultRecorded(EventData):
    """Customs' summary result (CEB792 汇总结果单, customs → enterprise) for a summary (CEB701), recorded
    once on the summary's stream; ``invt_nos`` are the lists it closes. Not a receipt: the summary's own
    receipts (CEB702) stay ``ReceiptRecorded``."""

    TYPE: ClassVar[str] = SUMMARY_RESULT_RECORDED
    result_id: str  # the customs link's id of the result (repeats carry the same id)
    sum_no: str  # customs' summary number (汇总申请编号), also in the summary's CEB702
    dec_state: str  # the customs declaration's state (decState)
    op_date: str  # when customs issued it (opDate, 17 digits)
    invt_nos: list[str]  # the lists it summarises (SummaryResultList.invtNo, each once, in order)
    decl_seq_no: str | None = None  # the declaration's sequence number (declSeqNo)
    entry_id: str | None = None  # the customs declaration number (entryId) once assigned


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxBillRecorded(EventData):
    """Customs' electronic tax bill (CEB816 电子税单, customs → enterprise) for a released import list,
    recorded once on the list's stream. Amounts are customs' decimal text (N19,5), never rounded here."""

    TYPE: ClassVar[str] = TAX_BILL_RECORDED
    result_id: str  # the customs link's id of the message (repeats carry the same id)
    invt_no: str  # the list customs numbered (its CEB622 gave the number)
    tax_no: str  # 电子税单编号
    status: str  # 1 generated, 2 summarised, 3 void (TAX_STATUSES)
    return_time: str  # when customs issued it (17 digits, China time)
    customs_tax: str  # 应征关税
    value_added_tax: str  # 应征增值税
    consumption_tax: str  # 应征消费税
    ent_duty_no: str | None = None  # 缴款书编号, once summarised into a payment notice
    assure_code: str | None = None  # 担保企业代码: whose guarantee answers for it


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxStatusRecorded(EventData):
    """Customs' tax bill status (CEB818 电子税单状态) for a list's tax bill, recorded once on the list's stream."""

    TYPE: ClassVar[str] = TAX_STATUS_RECORDED
    result_id: str
    invt_no: str
    tax_no: str
    status: str  # 1 generated, 2 summarised, 3 void (TAX_STATUSES)
    return_time: str
    ent_duty_no: str | None = None
    assure_code: str | None = None


EVENT_DATA: dict[str, type[EventData]] = {
    c.TYPE: c
    for c in (DocumentReceived, DocumentRefused, DocumentHeld, DocumentReleased, DocumentSigned,
              DocumentSigningFailed, DocumentSent, ReceiptRecorded, DocumentWithdrawn, SummaryResultRecorded,
              TaxBillRecorded, TaxStatusRecorded)
}
"""Event type → its payload class."""


@dataclass(frozen=True, slots=True)
class DeclarationEvent(JsonMessage):
    """One public declaration event; ``data`` holds the payload fields of its type's schema."""

    type: str
    stream_id: str
    version: int
    doc_type: str
    clearance_key: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, stream_id: uuid.UUID, version: int, event_type: str, data: Mapping[str, Any]) -> DeclarationEvent:
        """The public form of a stored event (private fields dropped)."""
        return cls(
            type=event_type,
            stream_id=str(stream_id),
            version=version,
            doc_type=str(data.get("docType", "")),
            clearance_key=str(data.get("clearanceKey", "")),
            data={k: v for k, v in data.items() if k not in PRIVATE_FIELDS},
        )

    @property
    def event_id(self) -> str:
        """``<streamId>:<version>``: unique and stable, consumers dedupe by it."""
        return f"{self.stream_id}:{self.version}"

    @property
    def key(self) -> str:
        """The Kafka key: the clearance (a stream without one keeps its own order)."""
        return self.clearance_key or self.stream_id

    @property
    def payload(self) -> EventData:
        """``data`` as its type's payload class (the base class for a type this version does not know)."""
        return EVENT_DATA.get(self.type, EventData).from_dict(self.data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "eventId": self.event_id,
            "type": self.type,
            "streamId": self.stream_id,
            "version": self.version,
            "docType": self.doc_type,
            "clearanceKey": self.clearance_key,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeclarationEvent:
        """Read an envelope; a known event type is checked against its own schema, an unknown one
        (a later version may add types) only against the envelope."""
        if data.get("schema") != SCHEMA:
            raise ContractError([finding("schema", f"not a {SCHEMA} event")])
        version, payload = data.get("version"), data.get("data")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ContractError([finding("version", "version must be an integer")])
        if not isinstance(payload, dict):
            raise ContractError([finding("data", "data must be an object")])
        event = cls(
            type=text(data, "type"),
            stream_id=text(data, "streamId"),
            version=version,
            doc_type=text(data, "docType"),
            clearance_key=text(data, "clearanceKey", required=False),
            data=payload,
        )
        check_schema(f"events/{event.type}.json" if event.type in EVENT_TYPES else "events/envelope.json", data)
        return event


__all__ = [
    "EVENT_DATA",
    "EVENT_TYPES",
    "HELD",
    "PRIVATE_FIELDS",
    "RECEIPT_RECORDED",
    "RECEIVED",
    "REFUSED",
    "RELEASED",
    "SCHEMA",
    "SENT",
    "SIGNED",
    "SIGNING_FAILED",
    "SUMMARY_RESULT_RECORDED",
    "TAX_BILL_RECORDED",
    "TAX_STATUSES",
    "TAX_STATUS_RECORDED",
    "WITHDRAWN",
    "stream_fields",
    "DeclarationEvent",
    "DocumentHeld",
    "DocumentReceived",
    "DocumentRefused",
    "DocumentReleased",
    "DocumentSent",
    "DocumentSigned",
    "DocumentSigningFailed",
    "DocumentWithdrawn",
    "EventData",
    "Links",
    "StreamFields",
    "ReceiptRecorded",
    "SummaryResultRecorded",
    "TaxBillRecorded",
    "TaxStatusRecorded",
]
