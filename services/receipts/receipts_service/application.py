"""The customs link: signed documents out in DxpMsg envelopes, customs receipts in as events."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cbec.ceb import codec, dxp
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.signing import SignResult
from cbec.customs.transport import Transport
from cbec.declaration.doctypes import BY_RECEIPT, INVENTORY, STREAM_NAMESPACE
from cbec.declaration.owners import owner_of, receipt_owner, unowned
from cbec.declaration.ports import AlreadyProcessed, DeclarationStore, Position, VersionConflict
from cbec.store.handling import mark_handled
from cbec.tenants import TenantRegistry

log = logging.getLogger(__name__)

CUSTOMS_IMPORT_DXP_ID = "DXPEDCCEB0000002"

TRANSMITTED = "DocumentTransmitted"
RECEIPT_FILE_INGESTED = "ReceiptFileIngested"
RECEIPT_FILE_REJECTED = "ReceiptFileRejected"
RECEIPT_RECEIVED = "ReceiptReceived"
COP_MSG_INDEXED = "TransmissionIndexed"


def _cop_stream(cop_msg_id: str) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, f"cop-msg:{cop_msg_id}")


def receipt_id(receipt_type: str, node: dict[str, Any]) -> str:
    canonical = json.dumps([receipt_type, node], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class CustomsLinkApp:
    """Transmits each signed document once and turns every receipt file into receipt events."""

    def __init__(
        self,
        store: DeclarationStore,
        link: Transport,
        tenants: TenantRegistry,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.link = link
        self.tenants = tenants
        self.now = now

    def on_signed(self, raw: bytes, position: Position) -> None:
        """A message on ``cbec.sign.results``: transmit it; one that breaks the contract raises
        ``ContractError``, which the consumer dead-letters on ``cbec.dlq.receipts``."""
        try:
            result = SignResult.from_json(raw)
        except ContractError as bad:
            log.warning("unreadable sign result at %s@%d: %s", position.source, position.offset, bad)
            raise
        self.transmit(result, position)

    def transmit(self, result: SignResult, position: Position | None = None) -> str | None:
        """Wrap a signed document in a DxpMsg and drop it for customs; once per request id.

        The transmission is recorded before the file is written: a crash in between leaves a
        document unsent (the saga's deadline resends it), never sent twice.
        """
        if not result.ok:
            self._mark(position)
            return None
        request_id = result.request_id
        stream_id = uuid.uuid5(STREAM_NAMESPACE, f"transmission:{request_id}")
        if self.store.read(stream_id):
            self._mark(position)
            return None
        tenant = self.tenants.get(result.tenant)
        doc_type = result.doc_type
        signed = result.signed_xml()
        when = self.now()
        cop_msg_id = str(uuid.uuid4()).upper()
        name = self.link.free_name(doc_type, tenant.customs_code, when)
        envelope = dxp.wrap(signed, msg_type=f"{doc_type}Message", sender_id=tenant.dxp_id,
                            receiver_ids=[CUSTOMS_IMPORT_DXP_ID], cop_msg_id=cop_msg_id, created=when,
                            file_name=name)
        event = DocumentTransmitted(request_id, doc_type, result.clearance_key, name, cop_msg_id, when.isoformat())
        try:
            self.store.append(stream_id, 0, [(TRANSMITTED, event.to_dict())], position)
        except (VersionConflict, AlreadyProcessed):
            return None
        try:  # the index CEB900 receipts are correlated by (their oriCopMsgId names the transmission)
            self.store.append(_cop_stream(cop_msg_id), 0, [(COP_MSG_INDEXED, {"requestId": request_id,
                              "docType": doc_type, "clearanceKey": result.clearance_key,
                              "fileName": name})])
        except VersionConflict:
            pass
        self.link.transmit(name, envelope)
        return name

    def ingest(self, path: Path) -> int:
        """Record one receipt file (any receipt type); a repeat of the same file is ignored."""
        return self.ingest_message(path.name, path.read_bytes())

    def ingest_message(self, name: str, raw: bytes) -> int:
        """Record one receipt message fetched from the transport; a repeat is ignored."""
        digest = hashlib.sha256(raw).hexdigest()
        stream_id = uuid.uuid5(STREAM_NAMESPACE, f"receipt-file:{name}:{digest}")
        if self.store.read(stream_id):
            return 0
        events: list[tuple[str, dict[str, Any]]]
        try:
            receipts = self._receipts_in(raw)
            events = [(RECEIPT_FILE_INGESTED, {"fileName": name, "count": len(receipts)})]
            # One event per receipt: each gets its own notification id, which consumers dedupe by.
            events += [(RECEIPT_RECEIVED, r.to_dict()) for r in receipts]
        except Exception as exc:  # noqa: BLE001 - a bad file is recorded, never dropped
            log.warning("receipt file %s unreadable: %s", name, type(exc).__name__)
            receipts = []
            events = [(RECEIPT_FILE_REJECTED, {"fileName": name, "error": str(exc)[:500]})]
        try:
            self.store.append(stream_id, 0, events)
        except VersionConflict:
            return 0
        return len(receipts)

    def poll_inbox(self) -> int:
        """Ingest what the transport has; each message is acknowledged once it is recorded."""
        count = 0
        for name, raw in self.link.fetch():
            count += self.ingest_message(name, raw)
            self.link.acknowledge(name)
        return count

    def transmission_of(self, cop_msg_id: str) -> dict[str, Any] | None:
        """The transmission a CopMsgId names (requestId, docType, clearanceKey, fileName)."""
        events = self.store.read(_cop_stream(cop_msg_id))
        return dict(events[0][1]) if events else None

    def _receipts_in(self, raw: bytes) -> list[ReceiptReceived]:
        business = dxp.unwrap(raw).data if dxp.is_dxp(raw) else raw
        msg = codec.parse(business, strict=False)
        out: list[ReceiptReceived] = []
        doc_type = BY_RECEIPT.get(msg.type)
        for node in msg.docs:
            flat = {k: v for k, v in node.items() if isinstance(v, str)}
            tax_head = node.get("TaxHeadRd") or node.get("TaxHeadStatus")
            if isinstance(tax_head, dict):  # CEB816 tax bill / CEB818 tax status: about a list, by invtNo
                flat = {k: v for k, v in tax_head.items() if isinstance(v, str)}
                out.append(ReceiptReceived(
                    receipt_id=receipt_id(msg.type, flat), receipt_type=msg.type, doc_type=INVENTORY.code,
                    business_key=[flat.get("invtNo", "")], return_status=_int(flat.get("status", "")),
                    return_time=flat.get("returnTime", ""), return_info=flat.get("note", ""), node=flat))
                continue
            if doc_type is None:  # CEB900 and customs-issued messages: correlated by the transmission
                key: list[str] = [flat.get("oriCopMsgId", "")]
                doc_code = flat.get("oriMessageType", "").removesuffix("Message")
                sent = self.transmission_of(key[0]) if key[0] else None
                if sent is not None:
                    flat = {**flat, "requestId": sent["requestId"], "clearanceKey": sent["clearanceKey"]}
                    doc_code = str(sent["docType"])
            else:
                key = list(doc_type.receipt_key(flat))
                doc_code = doc_type.code
            out.append(ReceiptReceived(
                receipt_id=receipt_id(msg.type, flat), receipt_type=msg.type, doc_type=doc_code, business_key=key,
                return_status=_int(flat.get("returnStatus", "")), return_time=flat.get("returnTime", ""),
                return_info=flat.get("returnInfo", ""), node=flat))
        return out

    def _mark(self, position: Position | None) -> None:
        mark_handled(self.store.record_position, position)


def _int(text: str) -> int:
    """A receipt status as a number (0 when customs left it empty or non-numeric)."""
    try:
        return int(text)
    except ValueError:
        return 0


def route(stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """Transmissions and receipts go to the feedback topics of the service owning their document type
    (``cbec.declaration.owners``), keyed by the clearance (or business) key. A receipt nobody owns (a
    CEB900 naming neither a transmission the link sent nor a known message type) is dead-lettered on
    ``cbec.dlq.receipts``, so it is never lost silently.

    The stored payloads are the messages' own ``to_dict()``, so they are read back, not re-checked."""
    if event_type == TRANSMITTED:
        sent = DocumentTransmitted(**data)
        owner = owner_of(sent.doc_type)
        if owner is not None:
            return [(topics.feedback(owner, topics.FEEDBACK_SENT), sent.key, sent.to_json())]
        return [_unowned(stream_id, version, sent.to_json(), f"a transmission of {sent.doc_type!r}")]
    if event_type == RECEIPT_RECEIVED:
        receipt = ReceiptReceived(**data)
        owner = receipt_owner(receipt)
        if owner is not None:
            return [(topics.feedback(owner, topics.FEEDBACK_RECEIPTS), receipt.key, receipt.to_json())]
        return [_unowned(stream_id, version, receipt.to_json(),
                         f"a {receipt.receipt_type} receipt about {receipt.doc_type or 'an unknown message'}")]
    return []


def _unowned(stream_id: uuid.UUID, version: int, raw: bytes, what: str) -> tuple[str, str, bytes]:
    log.warning("customs link: %s has no owning service; dead-lettered", what)
    return unowned("receipts", f"receipts:{stream_id}", version, raw, what)
